"""The Python SDK against a real broker: ``gate``/``submit``/``wait``/``verify`` and the
``@requires_approval`` decorator run an action only after a human approved it, with the approved
arguments; a rejection, a timeout, a replay or a forged decision run nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, List

import pytest

import countersign
from conftest import TestBroker


def client(broker: TestBroker) -> countersign.Client:
    return countersign.Client(
        api=broker.api, token=broker.token, trust=broker.trust, ledger=broker.dir / "ledger"
    )


def in_background(fn: Callable[[], Any]) -> "Future[Any]":
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def test_an_approved_shell_command_runs_the_approved_argv(broker, tmp_path):
    marker = tmp_path / "marker"
    draft = {
        "kind": "shell.exec", "target": "host://test", "summary": "Touch a marker",
        "payload": {"argv": ["touch", str(marker)]},
    }
    c = client(broker)
    approval = in_background(lambda: c.gate(draft))
    pending = broker.next_pending()
    assert pending["action"]["payload"]["argv"] == ["touch", str(marker)]
    broker.approve(pending)
    result = approval.result(timeout=30)
    assert result.approver == "ana" and not result.edited
    subprocess.run(result.action["payload"]["argv"], check=True)
    assert marker.exists()


def test_submit_wait_and_verify_are_usable_one_by_one(broker):
    c = client(broker)
    submitted = c.submit({"kind": "message.post", "target": "forum://eng/1", "summary": "Say thanks",
                          "payload": {"channel": "eng", "body": "thanks!"}})
    assert submitted.status == "pending" and submitted.agent == "bot"
    assert submitted.action_digest.startswith("sha256:")
    assert 0 <= submitted.risk["score"] <= 100
    with pytest.raises(countersign.Timeout):
        c.wait(submitted.id, timeout=1)
    broker.approve(broker.next_pending())
    envelope = c.wait(submitted, timeout=30)
    assert json.loads(envelope)["payloadType"] == "application/vnd.countersign.decision.v1+json"
    body = c.verify(envelope, submitted)
    assert body["verdict"] == "approved" and body["action"]["payload"]["body"] == "thanks!"
    with pytest.raises(countersign.Refused) as replay:
        c.verify(envelope, submitted)
    assert replay.value.code == "replay", "a decision is used once, then refused"


def test_a_rejected_draft_raises_rejected_with_the_humans_reason(broker):
    c = client(broker)
    outcome = in_background(lambda: c.gate({"kind": "shell.exec", "target": "host://prod", "summary": "drop it",
                                            "payload": {"argv": ["psql", "-c", "DROP TABLE users"]}}))
    broker.reject(broker.next_pending(), "not on prod")
    with pytest.raises(countersign.Rejected) as e:
        outcome.result(timeout=30)
    assert e.value.reason.endswith("not on prod")
    assert e.value.action_id


def test_a_decision_for_another_draft_or_a_tampered_one_is_refused(broker):
    c = client(broker)
    first = c.submit({"kind": "message.post", "target": "forum://eng/1", "summary": "a",
                      "payload": {"channel": "eng", "body": "one"}})
    second = c.submit({"kind": "message.post", "target": "forum://eng/1", "summary": "b",
                       "payload": {"channel": "eng", "body": "two"}})
    pending = [broker.next_pending(), broker.next_pending()]
    broker.approve(next(p for p in pending if p["id"] == first.id))
    envelope = c.wait(first, timeout=30)
    with pytest.raises(countersign.Refused) as wrong:
        c.verify(envelope, second)
    assert wrong.value.code == "audience"
    env = json.loads(envelope)
    body = base64.b64decode(env["payload"]).replace(b'"one"', b'"ONE"')
    env["payload"] = base64.b64encode(body).decode()
    with pytest.raises(countersign.Refused):
        c.verify(json.dumps(env).encode(), first)


def test_the_decorator_calls_the_function_only_after_approval_with_the_approved_arguments(broker):
    calls: List[Any] = []

    @countersign.requires_approval(target="files://tmp", server="files", client=client(broker))
    def delete_file(path: str, force: bool = False) -> str:
        calls.append((path, force))
        return f"deleted {path}"

    outcome = in_background(lambda: delete_file("/tmp/report.csv"))
    pending = broker.next_pending()
    assert calls == [], "nothing runs before the decision"
    assert pending["action"]["kind"] == "tool.call"
    assert pending["action"]["target"] == "files://tmp"
    assert pending["action"]["payload"] == {
        "tool": "delete_file", "server": "files", "arguments": {"path": "/tmp/report.csv", "force": False},
    }
    broker.approve(pending)
    assert outcome.result(timeout=30) == "deleted /tmp/report.csv"
    assert calls == [("/tmp/report.csv", False)]
    assert delete_file.__name__ == "delete_file", "functools.wraps keeps the tool's name"


def test_the_decorator_raises_on_rejection_and_never_calls_the_function(broker):
    calls: List[Any] = []

    @countersign.requires_approval(client=client(broker))
    def send_email(to: str, body: str) -> None:
        calls.append(to)

    outcome = in_background(lambda: send_email("all@example.com", body="hi all"))
    pending = broker.next_pending()
    assert pending["action"]["target"] == f"python://{__name__}/send_email"
    broker.reject(pending, "wrong audience")
    with pytest.raises(countersign.Rejected, match="wrong audience"):
        outcome.result(timeout=30)
    assert calls == []


def test_the_decorator_gates_async_functions_too(broker):
    @countersign.requires_approval(client=client(broker))
    async def restart(service: str) -> str:
        return f"restarted {service}"

    async def scenario() -> str:
        call = asyncio.ensure_future(restart("api"))
        pending = await asyncio.to_thread(broker.next_pending)
        assert pending["action"]["payload"]["arguments"] == {"service": "api"}
        await asyncio.to_thread(broker.approve, pending)
        return await asyncio.wait_for(call, 30)

    assert asyncio.run(scenario()) == "restarted api"


def test_configuration_comes_from_the_environment_and_errors_are_coded(broker, monkeypatch, tmp_path):
    monkeypatch.setenv("COUNTERSIGN_API", broker.api)
    monkeypatch.setenv("COUNTERSIGN_TOKEN", "cs_wrong")
    monkeypatch.setenv("COUNTERSIGN_GATE_DIR", str(tmp_path / "gate"))
    with pytest.raises(countersign.ApiError) as e:
        countersign.submit({"kind": "shell.exec", "target": "t", "summary": "s", "payload": {"argv": ["true"]}})
    assert e.value.status == 401 and e.value.code == "unauthorized"
    monkeypatch.setenv("COUNTERSIGN_TOKEN", broker.token)
    with pytest.raises(countersign.ApiError) as bad:
        countersign.submit({"kind": "shell.exec", "target": "t", "summary": "s", "payload": {"argv": []}})
    assert bad.value.status == 400 and "/payload/argv" in bad.value.message
    monkeypatch.delenv("COUNTERSIGN_TRUST", raising=False)
    submitted = countersign.submit({"kind": "shell.exec", "target": "t", "summary": "s", "payload": {"argv": ["true"]}})
    broker.approve(broker.next_pending())
    with pytest.raises(countersign.ConfigError, match="COUNTERSIGN_TRUST"):
        countersign.verify(countersign.wait(submitted, 30), submitted)
    with pytest.raises(ValueError):
        countersign.requires_approval(kind="shell.exec")


def test_an_unreachable_broker_is_an_api_error_not_a_crash(tmp_path):
    c = countersign.Client(api="http://127.0.0.1:9", token="cs_x", ledger=tmp_path / "ledger")
    with pytest.raises(countersign.ApiError) as e:
        c.submit({"kind": "shell.exec", "target": "t", "summary": "s", "payload": {"argv": ["true"]}})
    assert e.value.status == 0 and e.value.code == "unreachable"
    with pytest.raises(countersign.Timeout, match="last error"):
        c.wait("0b6f", timeout=1)


def test_the_decorator_runs_with_the_arguments_the_human_edited(broker):
    calls: List[Any] = []

    @countersign.requires_approval(client=client(broker))
    def post(channel: str, body: str) -> None:
        calls.append((channel, body))

    outcome = in_background(lambda: post("all-hands", "grant everyone read on user_data"))
    pending = broker.next_pending()
    edited = dict(pending["action"])
    edited["payload"] = {**edited["payload"], "arguments": {"channel": "data-eng", "body": "ask #data-eng first"}}
    broker.approve_edited(pending, edited)
    outcome.result(timeout=30)
    assert calls == [("data-eng", "ask #data-eng first")], "the approved arguments, not the agent's"


def test_gate_reports_an_edit(broker):
    c = client(broker)
    approval = in_background(lambda: c.gate({"kind": "shell.exec", "target": "host://t", "summary": "s",
                                             "payload": {"argv": ["rm", "-rf", "/"]}}))
    pending = broker.next_pending()
    edited = dict(pending["action"])
    edited["payload"] = {"argv": ["rm", "-rf", "/tmp/x"]}
    broker.approve_edited(pending, edited)
    result = approval.result(timeout=30)
    assert result.edited and result.action["payload"]["argv"] == ["rm", "-rf", "/tmp/x"]

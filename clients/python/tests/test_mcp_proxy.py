"""``countersign mcp-proxy`` between the official MCP Python SDK's client and a server written
with the same SDK, against a real broker: a call runs only after a human approved it, with the
arguments from the signed decision; a rejected, expired or timed-out call is answered by the
gateway with the reason and never reaches the server; everything else flows, also while a call
waits."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import TestBroker, start_broker

SERVER = str(Path(__file__).with_name("mcp_files_server.py"))


@asynccontextmanager
async def gateway(
    broker: TestBroker, countersign: str, *flags: str
) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=countersign,
        args=[
            "mcp-proxy", "--trust", broker.trust, "--api", broker.api,
            "--state-dir", str(broker.dir / "gate"), *flags, "--", sys.executable, SERVER,
        ],
        env={**os.environ, "COUNTERSIGN_TOKEN": broker.token, "CALL_LOG": str(broker.dir / "calls.jsonl")},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.list_tools()  # the gateway learns the tools' annotations here
            yield session


def calls(broker: TestBroker) -> List[Dict[str, Any]]:
    log = broker.dir / "calls.jsonl"
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []


def text(result: Any) -> str:
    return "".join(c.text for c in result.content if c.type == "text")


def test_an_approved_call_reaches_the_server_once_and_was_drafted_as_a_tool_call(broker, binaries, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("data")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"]) as session:
            call = asyncio.create_task(session.call_tool("delete_file", {"path": str(victim)}))
            pending = await asyncio.to_thread(broker.next_pending)
            assert victim.exists() and calls(broker) == [], "nothing may run before the decision"
            assert pending["action"]["kind"] == "tool.call"
            assert pending["action"]["payload"] == {
                "tool": "delete_file", "server": "files", "arguments": {"path": str(victim)},
            }
            assert pending["action"]["target"] == "mcp://files/delete_file"
            await asyncio.to_thread(broker.approve, pending)
            result = await asyncio.wait_for(call, 30)
            assert not result.isError, text(result)
            assert text(result) == f"deleted {victim}"

    asyncio.run(scenario())
    assert not victim.exists()
    assert calls(broker) == [{"tool": "delete_file", "arguments": {"path": str(victim)}}]


def test_a_rejected_call_is_answered_with_the_reason_and_never_forwarded(broker, binaries, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("data")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"]) as session:
            call = asyncio.create_task(session.call_tool("delete_file", {"path": str(victim)}))
            pending = await asyncio.to_thread(broker.next_pending)
            await asyncio.to_thread(broker.reject, pending, "that file is evidence")
            result = await asyncio.wait_for(call, 30)
            assert result.isError, "a refusal is a tool error the model can read"
            assert "that file is evidence" in text(result), text(result)
            assert "delete_file" in text(result)
            # The session still works after a refusal.
            assert (await session.list_tools()).tools

    asyncio.run(scenario())
    assert victim.exists(), "a rejected call must not run"
    assert calls(broker) == [], "the server never saw the rejected call"


def test_a_call_nobody_decides_in_time_is_refused_and_never_forwarded(broker, binaries, tmp_path):
    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"], "--timeout", "1") as session:
            result = await asyncio.wait_for(session.call_tool("echo", {"text": "hi"}), 30)
            assert result.isError
            assert "no decision" in text(result), text(result)

    asyncio.run(scenario())
    assert broker.count() == 1
    assert calls(broker) == []


def test_other_requests_flow_while_a_call_waits_and_concurrent_calls_are_decided_separately(broker, binaries, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("A")
    b.write_text("B")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"]) as session:
            first = asyncio.create_task(session.call_tool("delete_file", {"path": str(a)}))
            p1 = await asyncio.to_thread(broker.next_pending)
            # While the first call waits for a human: list, ping, and a second call.
            tools = await asyncio.wait_for(session.list_tools(), 10)
            assert {t.name for t in tools.tools} == {"delete_file", "read_file", "purge_logs", "echo"}
            await asyncio.wait_for(session.send_ping(), 10)
            second = asyncio.create_task(session.call_tool("delete_file", {"path": str(b)}))
            p2 = await asyncio.to_thread(broker.next_pending)
            assert p2["action"]["payload"]["arguments"] == {"path": str(b)}
            await asyncio.to_thread(broker.approve, p2)
            r2 = await asyncio.wait_for(second, 30)
            assert not r2.isError, text(r2)
            assert not first.done(), "the first call still waits for its own decision"
            await asyncio.to_thread(broker.reject, p1, "keep a")
            r1 = await asyncio.wait_for(first, 30)
            assert r1.isError and "keep a" in text(r1)

    asyncio.run(scenario())
    assert a.exists() and not b.exists()
    assert calls(broker) == [{"tool": "delete_file", "arguments": {"path": str(b)}}]


def test_without_a_policy_rule_a_read_only_tool_is_drafted_marked_and_held(broker, binaries, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("hello")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"]) as session:
            call = asyncio.create_task(session.call_tool("read_file", {"path": str(note)}))
            pending = await asyncio.to_thread(broker.next_pending)
            assert pending["action"]["payload"] == {
                "tool": "read_file", "server": "files", "arguments": {"path": str(note)},
                "read_only_hint": True,
            }, "the server's read-only claim is in the draft, for the reviewer and the policy"
            await asyncio.to_thread(broker.reject, pending, "no")
            assert (await asyncio.wait_for(call, 30)).isError
            # A tool without the annotation is drafted without the mark.
            call = asyncio.create_task(session.call_tool("echo", {"text": "hi"}))
            pending = await asyncio.to_thread(broker.next_pending)
            assert "read_only_hint" not in pending["action"]["payload"]
            await asyncio.to_thread(broker.approve, pending)
            assert text(await asyncio.wait_for(call, 30)) == "hi"

    asyncio.run(scenario())
    assert [c["tool"] for c in calls(broker)] == ["echo"], "the rejected read-only call never arrived"


READ_ONLY_POLICY = """serial = 1

[read_only_tools]
auto_approve_below = 50
"""


def test_the_signed_policy_rule_approves_a_read_only_call_with_a_signed_decision_and_an_audit_row(binaries, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with start_broker(binaries, tmp_path, READ_ONLY_POLICY) as broker:

        async def scenario() -> None:
            async with gateway(broker, binaries["countersign"]) as session:
                # No human acts: the policy's rule approves, the gateway verifies and forwards.
                result = await asyncio.wait_for(session.call_tool("read_file", {"path": str(note)}), 30)
                assert not result.isError and text(result) == "hello", text(result)

        asyncio.run(scenario())
        [draft] = broker.drafts()
        assert draft["status"] == "approved"
        assert draft["action"]["payload"]["read_only_hint"] is True
        decided = [r for r in broker.audit() if r["action_id"] == draft["id"] and "read_only_tools" in json.dumps(r["detail"])]
        assert decided, f"an audit row cites the policy rule: {broker.audit()}"
        assert "policy serial 1" in json.dumps(decided[0]["detail"])
    assert calls(broker) == [{"tool": "read_file", "arguments": {"path": str(note)}}]


def test_a_read_only_claim_on_a_destructive_tool_or_an_unannotated_tool_still_waits_for_a_human(binaries, tmp_path):
    logs = tmp_path / "app.log"
    logs.write_text("evidence")
    with start_broker(binaries, tmp_path, READ_ONLY_POLICY) as broker:

        async def scenario() -> None:
            async with gateway(broker, binaries["countersign"]) as session:
                # purge_logs claims readOnlyHint but its name says it deletes (tool.delete, 30
                # points, below the rule's 50): the contradiction keeps it for a human.
                call = asyncio.create_task(session.call_tool("purge_logs", {"path": str(logs)}))
                pending = await asyncio.to_thread(broker.next_pending)
                assert pending["action"]["payload"]["read_only_hint"] is True
                assert logs.exists() and calls(broker) == []
                await asyncio.to_thread(broker.reject, pending, "that is not read-only")
                result = await asyncio.wait_for(call, 30)
                assert result.isError and "that is not read-only" in text(result)
                # A tool without the annotation is never approved by the rule.
                call = asyncio.create_task(session.call_tool("echo", {"text": "hi"}))
                pending = await asyncio.to_thread(broker.next_pending)
                await asyncio.to_thread(broker.reject, pending, "no")
                assert (await asyncio.wait_for(call, 30)).isError

        asyncio.run(scenario())
        assert [d["status"] for d in broker.drafts()] == ["rejected", "rejected"]
        [purge] = [d for d in broker.drafts() if d["action"]["payload"]["tool"] == "purge_logs"]
        assert [f["id"] for f in purge["risk"]["factors"]] == ["tool.delete"]
        assert purge["risk"]["score"] < 50, "the score alone would have let it pass"
    assert logs.exists()
    assert calls(broker) == []


def test_the_server_gets_the_arguments_the_human_approved_not_the_ones_the_model_sent(broker, binaries, tmp_path):
    asked, approved = tmp_path / "important.txt", tmp_path / "scratch.txt"
    asked.write_text("keep")
    approved.write_text("junk")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"]) as session:
            call = asyncio.create_task(session.call_tool("delete_file", {"path": str(asked)}))
            pending = await asyncio.to_thread(broker.next_pending)
            edited = dict(pending["action"])
            edited["payload"] = {**edited["payload"], "arguments": {"path": str(approved)}}
            await asyncio.to_thread(broker.approve_edited, pending, edited)
            result = await asyncio.wait_for(call, 30)
            assert text(result) == f"deleted {approved}", text(result)

    asyncio.run(scenario())
    assert asked.exists() and not approved.exists()
    assert calls(broker) == [{"tool": "delete_file", "arguments": {"path": str(approved)}}]


def test_a_waiting_call_reports_progress_so_the_client_keeps_waiting(broker, binaries, tmp_path):
    seen: List[Any] = []

    async def on_progress(progress: float, total: Any, message: Any) -> None:
        seen.append((progress, message))

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"], "--progress-every", "1") as session:
            call = asyncio.create_task(
                session.call_tool("echo", {"text": "hi"}, progress_callback=on_progress)
            )
            pending = await asyncio.to_thread(broker.next_pending)
            await asyncio.sleep(2.5)
            await asyncio.to_thread(broker.approve, pending)
            assert text(await asyncio.wait_for(call, 30)) == "hi"

    asyncio.run(scenario())
    assert len(seen) >= 2, seen
    assert [p for p, _ in seen] == sorted(p for p, _ in seen), "progress only increases"
    assert "Countersign" in str(seen[0][1])

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

from conftest import TestBroker

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
            assert {t.name for t in tools.tools} == {"delete_file", "read_file", "echo"}
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


def test_read_only_tools_pass_without_a_draft_only_when_allowed(broker, binaries, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("hello")

    async def scenario() -> None:
        async with gateway(broker, binaries["countersign"], "--allow-read-only") as session:
            result = await asyncio.wait_for(session.call_tool("read_file", {"path": str(note)}), 30)
            assert not result.isError and text(result) == "hello"
            assert broker.count() == 0, "a read-only tool needs no draft with --allow-read-only"
            # A tool without the annotation is still held.
            call = asyncio.create_task(session.call_tool("echo", {"text": "hi"}))
            pending = await asyncio.to_thread(broker.next_pending)
            assert pending["action"]["payload"]["tool"] == "echo"
            await asyncio.to_thread(broker.approve, pending)
            assert text(await asyncio.wait_for(call, 30)) == "hi"

        async with gateway(broker, binaries["countersign"]) as session:
            call = asyncio.create_task(session.call_tool("read_file", {"path": str(note)}))
            pending = await asyncio.to_thread(broker.next_pending)
            assert pending["action"]["payload"]["tool"] == "read_file", "without the flag it is held too"
            await asyncio.to_thread(broker.reject, pending, "no")
            assert (await asyncio.wait_for(call, 30)).isError

    asyncio.run(scenario())
    assert [c["tool"] for c in calls(broker)] == ["read_file", "echo"]


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

"""Fixtures for the tests that need a real broker (the SDK's and the MCP gateway's).

``broker`` starts ``crates/countersign-cli/examples/test_broker.rs``: the real broker and agent
API on ``127.0.0.1:0`` with a fresh database, and a stand-in for the human who decides through
the broker's use case — the API itself has no route that approves. The binaries are built once
per session (a no-op when they are up to date).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"


class TestBroker:
    """A running broker: ``api``, ``token``, ``agent``, ``trust`` (path), and the human's
    decisions. Each method is one line of the helper's stdin protocol."""

    __test__ = False  # not a test class

    def __init__(self, proc: "subprocess.Popen[str]", hello: Dict[str, Any], dir: Path):
        self.proc = proc
        self.api: str = hello["api"]
        self.token: str = hello["token"]
        self.agent: str = hello["agent"]
        self.trust: str = hello["trust"]
        self.dir = dir

    def _ask(self, command: Dict[str, Any]) -> Dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise AssertionError(f"test broker: {answer['error']}")
        return answer

    def next_pending(self, timeout: float = 20) -> Dict[str, Any]:
        """A pending draft not returned before, oldest first (drafts filed in the same second
        come in any order): ``{id, digest, action}``."""
        return self._ask({"op": "next_pending", "timeout_s": timeout})

    def approve(self, pending: Dict[str, Any]) -> None:
        self._ask({"op": "approve", "id": pending["id"], "digest": pending["digest"]})

    def approve_edited(self, pending: Dict[str, Any], action: Dict[str, Any]) -> None:
        """Approves ``action``, the human's edit of the pending draft."""
        self._ask({"op": "approve_edited", "id": pending["id"], "digest": pending["digest"], "action": action})

    def reject(self, pending: Dict[str, Any], reason: str) -> None:
        self._ask({"op": "reject", "id": pending["id"], "digest": pending["digest"], "reason": reason})

    def count(self) -> int:
        """How many drafts were filed."""
        return int(self._ask({"op": "count"})["count"])

    def drafts(self) -> List[Dict[str, Any]]:
        """Every draft filed, oldest first: ``{id, status, action, risk}``."""
        return list(self._ask({"op": "drafts"})["drafts"])

    def audit(self) -> List[Dict[str, Any]]:
        """The audit log in order: ``{event, action_id, detail}``."""
        return list(self._ask({"op": "audit"})["rows"])


@pytest.fixture(scope="session")
def binaries() -> Dict[str, str]:
    """Paths of the ``countersign`` CLI and the test broker, built if needed."""
    subprocess.run(
        ["cargo", "build", "-q", "-p", "countersign-cli", "--bin", "countersign", "--example", "test_broker"],
        cwd=ROOT,
        check=True,
    )
    return {"countersign": str(TARGET / "countersign"), "test_broker": str(TARGET / "examples" / "test_broker")}


@pytest.fixture
def broker(binaries: Dict[str, str], tmp_path: Path) -> Iterator[TestBroker]:
    with start_broker(binaries, tmp_path) as b:
        yield b


@contextmanager
def start_broker(binaries: Dict[str, str], tmp_path: Path, policy: Optional[str] = None) -> Iterator[TestBroker]:
    """A test broker in ``tmp_path``; with ``policy`` (policy.toml text), under that policy,
    signed by the approver's key pinned as a lead."""
    args = [binaries["test_broker"], str(tmp_path / "broker")]
    if policy is not None:
        policy_path = tmp_path / "policy.toml"
        policy_path.write_text(policy)
        args.append(str(policy_path))
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
    )
    try:
        assert proc.stdout
        line = proc.stdout.readline()
        assert line, "the test broker did not start"
        yield TestBroker(proc, json.loads(line), tmp_path)
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

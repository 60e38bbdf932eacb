"""The README's webhook receiver (between ``<!-- webhook:begin -->`` and ``<!-- webhook:end -->``),
run as written against a real broker (only its ``PORT`` is changed to a free one): the signed
decision POSTed to ``callback_url`` is verified and acted on once; a rejection is reported with
its reason; a forged POST is answered 404 and never acted on."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from conftest import ROOT, TestBroker


def snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    region = re.search(r"<!-- webhook:begin -->\n```python\n(.*?)```\n<!-- webhook:end -->", readme, re.S)
    assert region, "README.md has the webhook snippet between its markers"
    return region.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver(broker: TestBroker, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    port = free_port()
    code = snippet()
    assert "PORT = 8765" in code
    script = tmp_path / "receiver.py"
    script.write_text(code.replace("PORT = 8765", f"PORT = {port}", 1))
    env = {
        **os.environ,
        "COUNTERSIGN_TOKEN": broker.token,
        "COUNTERSIGN_TRUST": broker.trust,
        "COUNTERSIGN_API": broker.api,
        "COUNTERSIGN_GATE_DIR": str(tmp_path / "gate"),
        "PYTHONPATH": str(ROOT / "clients/python/src"),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield {"proc": proc, "port": port}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def finish(proc: "subprocess.Popen[str]") -> List[str]:
    out, _ = proc.communicate("\n", timeout=15)
    return [l for l in out.splitlines() if l.startswith(("approved:", "not run:"))]


def deliveries(broker: TestBroker, draft_id: str) -> List[Dict[str, Any]]:
    return [r["detail"] for r in broker.audit() if r["event"] == "decision.delivery" and r["action_id"] == draft_id]


def wait_delivered(broker: TestBroker, draft_id: str) -> List[Dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = deliveries(broker, draft_id)
        if any(d.get("status") == 204 for d in done):
            return done
        time.sleep(0.1)
    raise AssertionError(f"no 204 delivery recorded: {deliveries(broker, draft_id)}")


def test_an_approval_posted_to_the_callback_is_verified_and_acted_on_once(broker, receiver):
    pending = broker.next_pending()
    assert pending["action"]["payload"] == {"argv": ["logrotate", "/etc/logrotate.conf"]}
    broker.approve(pending)
    attempts = wait_delivered(broker, pending["id"])
    assert attempts[-1]["url"] == f"http://127.0.0.1:{receiver['port']}/decisions"
    assert finish(receiver["proc"]) == ["approved: {'argv': ['logrotate', '/etc/logrotate.conf']}"]


def test_a_rejection_is_reported_with_its_reason_and_a_forged_post_is_refused(broker, receiver):
    pending = broker.next_pending()
    # A forged decision: not signed by a pinned key.
    forged = json.dumps({"payloadType": "application/vnd.countersign.decision.v1+json",
                         "payload": "e30=", "signatures": [{"keyid": "x", "sig": "AAAA"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{receiver['port']}/decisions", data=forged, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404
    broker.reject(pending, "logs are evidence")
    wait_delivered(broker, pending["id"])
    assert finish(receiver["proc"]) == ["not run: logs are evidence"]

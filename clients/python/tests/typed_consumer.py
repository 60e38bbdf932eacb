"""Type-checked by scripts/test.sh against the package *installed* in a clean venv (mypy --strict
--python-executable): it fails when the installed packages lose their ``py.typed`` marker (mypy
then reports missing stubs) or their public signatures change."""

import countersign
from countersign_verify import TrustedKeys, verify_decision


def gate_shell(client: countersign.Client, argv: list[str]) -> list[str]:
    approval: countersign.Approval = client.gate(
        {"kind": "shell.exec", "target": "host://ci", "summary": "typed", "payload": {"argv": argv}}
    )
    approved: list[str] = approval.action["payload"]["argv"]
    return approved


def check(envelope: bytes, trusted: TrustedKeys) -> str:
    body = verify_decision(envelope, trusted, action_id="d1", agent="bot", now=0)
    verdict: str = body["verdict"]
    return verdict

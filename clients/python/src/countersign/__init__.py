"""Countersign for Python agents: file a draft, wait for a human's signed decision, verify it,
record its single use, and act only on what was approved.

.. code-block:: python

    import subprocess
    import countersign

    approval = countersign.gate({
        "kind": "shell.exec", "target": "host://build-01", "summary": "Clean the build cache",
        "payload": {"argv": ["rm", "-rf", "/var/cache/build"]},
    })
    subprocess.run(approval.action["payload"]["argv"], check=True)  # the APPROVED argv

    @countersign.requires_approval(target="mcp://files/delete_file")
    def delete_file(path: str) -> None: ...

Configuration comes from arguments of :class:`Client` or the environment: ``COUNTERSIGN_API``
(default ``http://127.0.0.1:7823``), ``COUNTERSIGN_TOKEN`` (the agent's token, from
``countersign agent add``), ``COUNTERSIGN_TRUST`` (the pinned keys, from
``countersign key export-public``) and ``COUNTERSIGN_GATE_DIR`` (where the single-use ledger
lives). Verification is :mod:`countersign_verify`, which follows the Rust gate's rules and
runs the same shared test vectors.
"""

from __future__ import annotations

from ._client import (
    Approval,
    Client,
    Submitted,
    default_client,
    gate,
    submit,
    verify,
    wait,
)
from ._decorator import requires_approval
from ._errors import (
    ApiError,
    ConfigError,
    CountersignError,
    NotApproved,
    Refused,
    Rejected,
    Timeout,
)
from ._ledger import Ledger

__all__ = [
    "ApiError",
    "Approval",
    "Client",
    "ConfigError",
    "CountersignError",
    "Ledger",
    "NotApproved",
    "Refused",
    "Rejected",
    "Submitted",
    "Timeout",
    "default_client",
    "gate",
    "requires_approval",
    "submit",
    "verify",
    "wait",
]

"""Verify an exported Countersign audit log (``countersign audit export``, JSON Lines) away
from the app, with the same rules as ``countersign audit verify``
(``crates/countersign-store/src/checkpoint.rs``).

Rows form a hash chain: ``hash = hex(SHA-256(prev_hash || JCS({seq, at, event, action_id,
detail})))``, the first ``prev_hash`` being 64 zeros. A checkpoint is a DSSE envelope (payload
type :data:`CHECKPOINT_PAYLOAD_TYPE`, body ``{"v": 1, "seq", "head", "at"}``) signed by the
approver's key over the hash of row ``seq``.

:func:`verify_log` returns the problems as text, in log order: ``edited S``, ``deleted A-B``,
``reordered S after F``, ``unlinked S``, ``truncated C last L``, ``bad_checkpoint S``,
``rewritten S``; an empty list means intact.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional, Tuple

import rfc8785

from . import TrustedKeys, VerificationError, parse_strict, verify_envelope

__all__ = ["CHECKPOINT_PAYLOAD_TYPE", "parse_jsonl", "row_hash", "verify_log"]

CHECKPOINT_PAYLOAD_TYPE = "application/vnd.countersign.audit-checkpoint.v1+json"
GENESIS = "0" * 64

_ROW_FIELDS = {"type", "seq", "at", "event", "action_id", "detail", "prev_hash", "hash"}


def parse_jsonl(data: bytes) -> Tuple[List[Dict[str, Any]], List[Tuple[int, Dict[str, Any]]]]:
    """Rows and (seq, envelope) checkpoints of an export; :class:`ValueError` names the first
    line that is neither."""
    rows: List[Dict[str, Any]] = []
    checkpoints: List[Tuple[int, Dict[str, Any]]] = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = parse_strict(line)
        except ValueError as e:
            raise ValueError(f"line {n}: {e}") from None
        kind = value.get("type") if isinstance(value, dict) else None
        if kind == "row" and set(value) == _ROW_FIELDS:
            rows.append(value)
        elif kind == "checkpoint" and set(value) == {"type", "seq", "envelope"}:
            checkpoints.append((value["seq"], value["envelope"]))
        else:
            raise ValueError(f"line {n}: neither a row nor a checkpoint")
    return rows, checkpoints


def row_hash(prev: str, row: Dict[str, Any]) -> str:
    body = {k: row[k] for k in ("seq", "at", "event", "action_id", "detail")}
    return hashlib.sha256(prev.encode("ascii") + rfc8785.dumps(body)).hexdigest()


def _checkpoint_body(envelope: Any, trusted: TrustedKeys) -> Dict[str, Any]:
    if not isinstance(envelope, dict) or set(envelope) != {"payload", "payloadType", "signatures"}:
        raise VerificationError("envelope", "not a DSSE envelope")
    verified = verify_envelope(envelope, CHECKPOINT_PAYLOAD_TYPE, trusted)
    try:
        body = parse_strict(verified.body)
    except ValueError as e:
        raise VerificationError("body", str(e)) from None
    if not isinstance(body, dict) or set(body) != {"v", "seq", "head", "at"} or body["v"] != 1:
        raise VerificationError("body", "not a checkpoint body")
    return body


def verify_log(
    rows: List[Dict[str, Any]],
    checkpoints: List[Tuple[int, Dict[str, Any]]],
    trusted: TrustedKeys,
) -> List[str]:
    """Every problem of the log, in order (see the module docs); ``[]`` when intact."""
    problems: List[str] = []
    position: Dict[str, int] = {}
    for row in rows:
        position.setdefault(row["hash"], row["seq"])
    expected, prev = 1, GENESIS
    for row in rows:
        seq = row["seq"]
        reordered = False
        if seq > expected:
            problems.append(f"deleted {expected}-{seq - 1}")
        elif row["prev_hash"] != prev:
            follows = position.get(row["prev_hash"])
            if follows is not None and follows != seq - 1:
                problems.append(f"reordered {seq} after {follows}")
                reordered = True
            else:
                problems.append(f"unlinked {seq}")
        if row_hash(row["prev_hash"], row) != row["hash"] and not reordered:
            problems.append(f"edited {seq}")
        expected, prev = seq + 1, row["hash"]
    last = rows[-1]["seq"] if rows else 0
    by_seq = {row["seq"]: row for row in rows}
    for stored_seq, envelope in checkpoints:
        try:
            body = _checkpoint_body(envelope, trusted)
        except VerificationError:
            problems.append(f"bad_checkpoint {stored_seq}")
            continue
        if body["seq"] != stored_seq:
            problems.append(f"bad_checkpoint {stored_seq}")
            continue
        checkpointed = by_seq.get(body["seq"])
        if checkpointed is not None:
            if checkpointed["hash"] != body["head"]:
                problems.append(f"rewritten {body['seq']}")
        elif body["seq"] > last:
            problems.append(f"truncated {body['seq']} last {last}")
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m countersign_verify.audit EXPORT.jsonl --trust approver.pub``: exit 0 and
    print ``intact``, or print each problem and exit 4."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m countersign_verify.audit")
    parser.add_argument("export", help="the output of countersign audit export")
    parser.add_argument("--trust", required=True, help="the approver key(s) checkpoints are signed by")
    args = parser.parse_args(argv)
    with open(args.trust, "rb") as f:
        trusted = TrustedKeys.from_json(f.read())
    with open(args.export, "rb") as f:
        rows, checkpoints = parse_jsonl(f.read())
    problems = verify_log(rows, checkpoints, trusted)
    for p in problems:
        print(f"TAMPERED: {p}")
    if not problems:
        print(f"intact: {len(rows)} rows, {len(checkpoints)} checkpoint(s)")
    sys.stdout.flush()
    return 4 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

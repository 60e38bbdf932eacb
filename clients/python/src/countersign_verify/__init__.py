"""Verify Countersign decision envelopes with the same rules as the Rust gate.

A decision is a DSSE envelope (https://github.com/secure-systems-lab/dsse, Ed25519) whose
payload is a JSON body binding a human's verdict to the exact action approved:
``action_digest = "sha256:" + hex(SHA-256(JCS(action)))`` (RFC 8785). See the package README
and ``crates/countersign-core/src/decision.rs`` for the reference implementation; the shared
vectors in ``tests/vectors/decisions.json`` hold both to the same outcomes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import _ed25519

__all__ = [
    "DECISION_PAYLOAD_TYPE",
    "DECISION_LIFETIME_S",
    "MAX_CLOCK_SKEW_S",
    "MAX_DEPTH",
    "VerificationError",
    "TrustError",
    "TrustedKey",
    "TrustedKeys",
    "Verified",
    "Quorum",
    "parse_strict",
    "pae",
    "action_digest",
    "verify_envelope",
    "verify_decision_signature",
    "verify_decision",
]

DECISION_PAYLOAD_TYPE = "application/vnd.countersign.decision.v1+json"
#: Longest lifetime of a signed decision (``exp - iat``), seconds.
DECISION_LIFETIME_S = 300
#: Clock skew tolerated on ``iat`` and ``exp``, seconds.
MAX_CLOCK_SKEW_S = 60
#: Deepest nesting of arrays and objects (the top-level value is depth 1).
MAX_DEPTH = 64
#: Largest magnitude a JSON number may have (RFC 7493 §2.2).
MAX_SAFE = 2**53

ACTION_KINDS = frozenset(
    ["message.post", "shell.exec", "file.write", "acl.change", "http.request", "tool.call"]
)
RISK_LEVELS = frozenset(["low", "medium", "high", "critical"])


class VerificationError(Exception):
    """The envelope must not be acted on. ``code`` is the class of refusal:
    ``envelope``, ``payload_type``, ``payload_encoding``, ``signature``, ``body``, ``digest``,
    ``audience``, ``expired``, ``rejected`` (a genuine, fresh rejection) or ``quorum`` (too few
    distinct approvers, or no lead)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class TrustError(VerificationError):
    """The trust file is refused (malformed, a key that is not a usable Ed25519 key, a keyid
    that does not match its key, or no keys at all)."""

    def __init__(self, message: str):
        super().__init__("trust", message)


# ---------------------------------------------------------------------------------------------
# Strict JSON (RFC 8259 + I-JSON, RFC 7493)


class _JsonRefused(ValueError):
    pass


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonRefused(f"duplicate key `{key}` (RFC 7493 §2.3)")
        out[key] = value
    return out


def _int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE:
        raise _JsonRefused(f"number {text} is outside ±2^53 (RFC 7493 §2.2)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not abs(value) <= MAX_SAFE:  # also refuses inf from overflowing literals
        raise _JsonRefused(f"number {text} is outside ±2^53 (RFC 7493 §2.2)")
    return value


def _constant(text: str) -> NoReturn:
    raise _JsonRefused(f"{text} is not JSON")


def _check_tree(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            raise _JsonRefused(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _JsonRefused("string with an unpaired surrogate is not Unicode text") from None


def parse_strict(data: bytes) -> Any:
    """Parses one JSON document (UTF-8 bytes) strictly, as the Rust side does: duplicate keys,
    numbers beyond ±2^53, NaN/Infinity, unpaired surrogates, nesting deeper than
    :data:`MAX_DEPTH` and trailing data are refused with :class:`ValueError`."""
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except RecursionError:
        raise ValueError(f"nesting deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError, _JsonRefused) as e:
        raise ValueError(str(e)) from None
    try:
        _check_tree(value)
    except _JsonRefused as e:
        raise ValueError(str(e)) from None
    return value


def _b64(text: Any) -> bytes:
    """Strict standard base64 (RFC 4648 §4): padding required, no unused bits set."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


# ---------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class TrustedKey:
    """One pinned key, as ``countersign key export-public`` prints it. A key with
    ``revoked_at`` (Unix seconds) is revoked: its signatures count zero, whenever they were
    made; ``revoked_reason`` (only with ``revoked_at``) says why."""

    keyid: str
    public_key: bytes
    approver: str
    role: str
    revoked_at: Optional[int] = None
    revoked_reason: Optional[str] = None


@dataclass(frozen=True)
class Quorum:
    """Distinct approvers a decision needs (``approvals`` ≥ 1), and whether one must be pinned
    as ``lead``. Each pinned key counts once; revoked keys and a key pinned under the
    requesting agent's own name count zero."""

    approvals: int = 1
    lead: bool = False


def key_id(public_key: bytes) -> str:
    """``sha256:`` + hex SHA-256 of the raw 32-byte public key."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


class TrustedKeys:
    """The keys a verifier pins: a trust file that is one key object or ``{"keys": [...]}``."""

    _FIELDS = {"keyid", "alg", "public_key", "approver", "role"}

    def __init__(self, keys: Sequence[TrustedKey]):
        if not keys:
            raise TrustError("trust file lists no keys")
        self.keys: List[TrustedKey] = list(keys)
        self._verifiers = [Ed25519PublicKey.from_public_bytes(k.public_key) for k in self.keys]

    @classmethod
    def from_json(cls, data: bytes) -> "TrustedKeys":
        """Parses and checks a trust file. Raises :class:`TrustError`."""
        try:
            value = parse_strict(data)
        except ValueError as e:
            raise TrustError(f"trust file is not strict JSON: {e}") from None
        if isinstance(value, dict) and "keys" in value:
            if set(value) != {"keys"} or not isinstance(value["keys"], list):
                raise TrustError('trust file must be a key object or {"keys": [...]}')
            entries = value["keys"]
        else:
            entries = [value]
        return cls([cls._key(i, entry) for i, entry in enumerate(entries)])

    @classmethod
    def _key(cls, index: int, entry: Any) -> TrustedKey:
        def fail(message: str) -> TrustError:
            return TrustError(f"trusted key #{index}: {message}")

        optional = {"revoked_at", "revoked_reason"}
        if not isinstance(entry, dict) or not cls._FIELDS <= set(entry) <= cls._FIELDS | optional:
            raise fail(
                f"must have exactly the fields {sorted(cls._FIELDS)} "
                "(and optionally revoked_at, revoked_reason)"
            )
        if not all(isinstance(entry[f], str) for f in cls._FIELDS):
            raise fail("every field is a string")
        revoked_at = entry.get("revoked_at")
        if revoked_at is not None and not _is_int(revoked_at):
            raise fail("revoked_at is Unix seconds")
        revoked_reason = entry.get("revoked_reason")
        if revoked_reason is not None and not isinstance(revoked_reason, str):
            raise fail("revoked_reason is a string")
        if revoked_reason is not None and revoked_at is None:
            raise fail("revoked_reason without revoked_at: is this key revoked or not?")
        if entry["alg"] != "ed25519":
            raise fail(f"unsupported alg `{entry['alg']}`; only ed25519")
        try:
            public = _b64(entry["public_key"])
        except ValueError as e:
            raise fail(f"public_key: {e}") from None
        if len(public) != 32:
            raise fail("public_key must be 32 bytes")
        point = _ed25519.decompress(public)
        if point is None:
            raise fail("public_key is not a valid Ed25519 point")
        if _ed25519.is_small_order(point):
            raise fail("public_key is a weak (small-order) point")
        if key_id(public) != entry["keyid"]:
            raise fail(f"keyid {entry['keyid']} does not match public_key")
        return TrustedKey(
            entry["keyid"], public, entry["approver"], entry["role"], revoked_at, revoked_reason
        )

    def verify_strict(self, index: int, message: bytes, signature: bytes) -> bool:
        """Ed25519 with ed25519-dalek's ``verify_strict`` rules: canonical ``S`` (< ℓ), and
        neither ``R`` nor the key of small order."""
        if len(signature) != 64:
            return False
        if int.from_bytes(signature[32:], "little") >= _ed25519.L:
            return False
        r = _ed25519.decompress(signature[:32])
        if r is None or _ed25519.is_small_order(r):
            return False
        try:
            self._verifiers[index].verify(signature, message)
        except InvalidSignature:
            return False
        return True


# ---------------------------------------------------------------------------------------------
# DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass
class Verified:
    """A verified envelope: the signed bytes and the distinct pinned key ids that signed."""

    body: bytes
    signers: List[str]


def _parse_envelope(data: bytes) -> Dict[str, Any]:
    try:
        env = parse_strict(data)
    except ValueError as e:
        raise VerificationError("envelope", f"not a DSSE envelope: {e}") from None
    if not isinstance(env, dict) or set(env) != {"payload", "payloadType", "signatures"}:
        raise VerificationError(
            "envelope", "an envelope has exactly payload, payloadType and signatures"
        )
    if not isinstance(env["payload"], str) or not isinstance(env["payloadType"], str):
        raise VerificationError("envelope", "payload and payloadType are strings")
    sigs = env["signatures"]
    if not isinstance(sigs, list) or not all(
        isinstance(s, dict) and set(s) == {"keyid", "sig"} and all(isinstance(v, str) for v in s.values())
        for s in sigs
    ):
        raise VerificationError("envelope", "signatures is a list of {keyid, sig} strings")
    return env


def verify_envelope(envelope: Dict[str, Any], expected_type: str, trusted: TrustedKeys) -> Verified:
    """Checks the payload type and the signatures against pinned, unrevoked keys only; each
    pinned key counts at most once. The envelope's ``keyid`` is never used to choose a key."""
    if envelope["payloadType"] != expected_type:
        raise VerificationError(
            "payload_type",
            f"payload type is `{envelope['payloadType']}`, expected `{expected_type}`",
        )
    try:
        body = _b64(envelope["payload"])
    except ValueError:
        raise VerificationError("payload_encoding", "payload is not base64") from None
    message = pae(envelope["payloadType"], body)
    signers: List[str] = []
    for s in envelope["signatures"]:
        try:
            raw = _b64(s["sig"])
        except ValueError:
            continue
        for index, key in enumerate(trusted.keys):
            if key.revoked_at is not None:
                continue  # a revoked key's signatures count zero
            if key.keyid not in signers and trusted.verify_strict(index, message, raw):
                signers.append(key.keyid)
    if not signers:
        raise VerificationError(
            "signature",
            f"no signature verifies against a pinned key ({len(envelope['signatures'])} signature(s) present)",
        )
    return Verified(body, signers)


# ---------------------------------------------------------------------------------------------
# Decision body


def action_digest(action: Dict[str, Any]) -> str:
    """``sha256:`` + hex SHA-256 of the RFC 8785 form of the action (``before: null`` is the
    same as no ``before``, as in the Rust type)."""
    action = {k: v for k, v in action.items() if not (k == "before" and v is None)}
    return "sha256:" + hashlib.sha256(rfc8785.dumps(_exact_ints_as_floats(action))).hexdigest()


def _exact_ints_as_floats(value: Any) -> Any:
    # rfc8785 refuses integers of magnitude 2^53 although they are exact doubles; JCS prints
    # integral doubles without a fraction, so the float form canonicalizes identically.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) == MAX_SAFE:
        return float(value)
    if isinstance(value, dict):
        return {k: _exact_ints_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact_ints_as_floats(v) for v in value]
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_body(body: Any) -> Dict[str, Any]:
    """``body`` as a decision body, or :class:`VerificationError` naming what is wrong."""

    def fail(message: str) -> NoReturn:
        raise VerificationError("body", f"decision body is malformed: {message}")

    required = {"v", "verdict", "action_id", "agent", "action", "action_digest", "approver", "risk", "iat", "exp", "jti"}
    if not isinstance(body, dict):
        fail("not an object")
    unknown = set(body) - required - {"reason", "policy_sha256"}
    if unknown:
        fail(f"unknown field(s) {sorted(unknown)}")
    missing = required - set(body)
    if missing:
        fail(f"missing field(s) {sorted(missing)}")
    for field in ("v", "iat", "exp"):
        if not _is_int(body[field]):
            fail(f"`{field}` must be an integer")
    if not 0 <= body["v"] < 2**32:
        fail("`v` is out of range")
    if body["verdict"] not in ("approved", "rejected"):
        fail("`verdict` is approved or rejected")
    if body.get("reason") is not None and not isinstance(body["reason"], str):
        fail("`reason` is a string or null")
    if body.get("policy_sha256") is not None and not isinstance(body["policy_sha256"], str):
        fail("`policy_sha256` is a string or null")
    for field in ("action_id", "agent", "action_digest", "jti"):
        if not isinstance(body[field], str):
            fail(f"`{field}` must be a string")
    approver = body["approver"]
    if not isinstance(approver, dict) or set(approver) != {"keyid", "name"} or not all(
        isinstance(v, str) for v in approver.values()
    ):
        fail("`approver` is {keyid, name}")
    risk = body["risk"]
    if (
        not isinstance(risk, dict)
        or set(risk) != {"score", "level"}
        or not _is_int(risk["score"])
        or not 0 <= risk["score"] <= 255
        or risk["level"] not in RISK_LEVELS
    ):
        fail("`risk` is {score: 0..255, level}")
    action = body["action"]
    if not isinstance(action, dict):
        fail("`action` is an object")
    fields = set(action)
    if not {"kind", "target", "summary", "payload"} <= fields <= {"kind", "target", "summary", "payload", "before"}:
        fail("`action` has kind, target, summary, payload and optionally before")
    if action["kind"] not in ACTION_KINDS:
        fail(f"unknown action kind `{action['kind']}`")
    if not isinstance(action["target"], str) or not isinstance(action["summary"], str):
        fail("action target and summary are strings")
    if body["v"] != 1:
        fail(f"unsupported version {body['v']}")
    return body


def verify_decision_signature(envelope_bytes: bytes, trusted: TrustedKeys) -> Dict[str, Any]:
    """Signature, payload type, strict body and digest binding (no audience, time or verdict).
    Returns the body, with ``"_signers"`` (the pinned key ids that signed) added."""
    envelope = _parse_envelope(envelope_bytes)
    verified = verify_envelope(envelope, DECISION_PAYLOAD_TYPE, trusted)
    try:
        body = _check_body(parse_strict(verified.body))
    except ValueError as e:
        raise VerificationError("body", f"decision body is malformed: {e}") from None
    computed = action_digest(body["action"])
    if computed != body["action_digest"]:
        raise VerificationError(
            "digest",
            f"digest mismatch: the signed digest is {body['action_digest']}, the action hashes to {computed}",
        )
    body["_signers"] = verified.signers
    return body


def verify_decision(
    envelope_bytes: bytes,
    trusted: TrustedKeys,
    *,
    action_id: str,
    agent: str,
    now: int,
    quorum: Optional[Quorum] = None,
) -> Dict[str, Any]:
    """Verifies a decision for execution: pinned signature, payload type, strict body, digest
    binding, audience (``action_id``, ``agent``), freshness at ``now`` (Unix seconds, ±60 s,
    lifetime ≤ 5 minutes), an approved verdict, and last the ``quorum`` of distinct approvers
    (default: one). Single use of ``jti`` is the caller's job.

    Returns the body (``body["action"]`` is what to execute) with ``"_signers"`` added.
    Raises :class:`VerificationError`; its ``code`` says why.
    """
    body = verify_decision_signature(envelope_bytes, trusted)
    if body["action_id"] != action_id:
        raise VerificationError(
            "audience", f"decision is for draft {body['action_id']}, not {action_id}"
        )
    if body["agent"] != agent:
        raise VerificationError("audience", f"decision is for agent `{body['agent']}`, not `{agent}`")
    iat, exp = body["iat"], body["exp"]
    if exp <= iat or exp - iat > DECISION_LIFETIME_S:
        raise VerificationError(
            "expired", f"lifetime {exp - iat}s is outside 1..={DECISION_LIFETIME_S}s"
        )
    if iat > now + MAX_CLOCK_SKEW_S:
        raise VerificationError("expired", f"issued {iat - now}s in the future")
    if now > exp + MAX_CLOCK_SKEW_S:
        raise VerificationError("expired", f"expired {now - exp}s ago")
    if body["verdict"] != "approved":
        raise VerificationError("rejected", body.get("reason") or "no reason given")
    _check_quorum(body, trusted, quorum or Quorum())
    return body


def _check_quorum(body: Dict[str, Any], trusted: TrustedKeys, quorum: Quorum) -> None:
    by_id: Dict[str, TrustedKey] = {}
    for key in trusted.keys:
        by_id.setdefault(key.keyid, key)  # the first entry of a key pinned twice
    counted = [by_id[k] for k in body["_signers"] if by_id[k].approver != body["agent"]]
    needed = max(1, quorum.approvals)
    if len(counted) < needed:
        raise VerificationError(
            "quorum",
            f"{len(counted)} distinct approver(s) signed, {needed} required "
            "(revoked keys and the requesting agent's own key do not count)",
        )
    if quorum.lead and not any(k.role == "lead" for k in counted):
        raise VerificationError("quorum", "a signature by a key pinned as `lead` is required")

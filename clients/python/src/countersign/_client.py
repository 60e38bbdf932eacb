"""The broker's agent API (``POST /v1/actions``, ``GET /v1/actions/{id}/decision?wait=S``) and the
gated flow: submit, wait, verify against pinned keys, record single use, return the approved
action. Standard library HTTP only; shapes in ``crates/countersign-core/src/api.rs``."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from countersign_verify import TrustedKeys, VerificationError, parse_strict, verify_decision

from ._errors import ApiError, ConfigError, CountersignError, Refused, Rejected, Timeout
from ._ledger import Ledger

#: Where the app (or ``countersign serve``) listens by default.
DEFAULT_API = "http://127.0.0.1:7823"
#: Longest long-poll the broker accepts, seconds.
MAX_WAIT_S = 60
#: Lifetime of a draft when it sets no ``expires_in_s``, seconds (the broker's default).
DEFAULT_EXPIRES_IN_S = 900
#: Extra wait beyond a draft's lifetime: an undecided draft gets a signed rejection at expiry.
EXPIRY_GRACE_S = 60
#: Time allowed for a request beyond the long-poll it asks for, seconds.
REQUEST_MARGIN_S = 15
# HTTP statuses worth retrying; 0 stands for no answer at all (connection refused, reset, timeout).
_TRANSIENT = {0, 429, 502, 503, 504}


@dataclass(frozen=True)
class Submitted:
    """The broker's receipt for a draft (``Submitted`` in api.rs)."""

    id: str
    status: str
    agent: str
    action_digest: str
    risk: Dict[str, Any]
    expires_at: int


@dataclass(frozen=True)
class Approval:
    """A verified approval whose single use is recorded. Execute ``action`` — what the human
    approved, which differs from the draft when they edited it — never your own copy."""

    action: Dict[str, Any]
    body: Dict[str, Any]
    envelope: bytes
    submitted: Submitted

    @property
    def edited(self) -> bool:
        """Whether the approved action differs from the one submitted."""
        return bool(self.body["action_digest"] != self.submitted.action_digest)

    @property
    def approver(self) -> str:
        """The approver's display name from the signed body."""
        return str(self.body["approver"]["name"])


class Client:
    """An agent's connection to Countersign. Arguments left out come from the environment
    (``COUNTERSIGN_API``, ``COUNTERSIGN_TOKEN``, ``COUNTERSIGN_TRUST``,
    ``COUNTERSIGN_GATE_DIR``); the token and trust file are needed only when used."""

    def __init__(
        self,
        api: Optional[str] = None,
        token: Optional[str] = None,
        trust: Union[str, Path, TrustedKeys, None] = None,
        ledger: Union[str, Path, Ledger, None] = None,
    ):
        self.api = (api or os.environ.get("COUNTERSIGN_API") or DEFAULT_API).rstrip("/")
        parsed = urllib.parse.urlsplit(self.api)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query:
            raise ConfigError(f"API URL `{self.api}` must be http(s)://host[:port] without a query")
        self._token = token if token is not None else os.environ.get("COUNTERSIGN_TOKEN")
        self._trust = trust if trust is not None else os.environ.get("COUNTERSIGN_TRUST")
        self._ledger = ledger

    def __repr__(self) -> str:
        return f"Client(api={self.api!r}, token=<redacted>)"

    # -- configuration, resolved on first use ---------------------------------------------

    @property
    def trusted(self) -> TrustedKeys:
        """The pinned keys (loaded from the trust file once)."""
        if isinstance(self._trust, TrustedKeys):
            return self._trust
        if not self._trust:
            raise ConfigError(
                "no trust file: pass trust= or set COUNTERSIGN_TRUST (countersign key export-public)"
            )
        with open(self._trust, "rb") as f:
            self._trust = TrustedKeys.from_json(f.read())
        return self._trust

    @property
    def ledger(self) -> Ledger:
        """The single-use ledger (opened once)."""
        if not isinstance(self._ledger, Ledger):
            self._ledger = Ledger(self._ledger)
        return self._ledger

    # -- HTTP ----------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, body: Optional[bytes] = None, timeout: float = REQUEST_MARGIN_S
    ) -> Tuple[int, Any]:
        if not self._token:
            raise ConfigError("no agent token: pass token= or set COUNTERSIGN_TOKEN (countersign agent add)")
        request = urllib.request.Request(self.api + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = parse_strict(raw)
                code, message = str(err["code"]), str(err["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "unexpected", raw[:200].decode("utf-8", "replace")
            raise ApiError(e.code, code, message) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ApiError(0, "unreachable", f"could not reach the broker at {self.api}: {reason}") from None
        try:
            return status, parse_strict(raw)
        except ValueError as e:
            raise ApiError(status, "unexpected", f"the answer is not strict JSON: {e}") from None

    def submit(self, draft: Mapping[str, Any]) -> Submitted:
        """Files a draft (``{kind, target, summary, payload, before?, callback_url?,
        expires_in_s?}``) and returns the broker's receipt. Raises :class:`ApiError` when the
        broker refuses it (the message says what and where)."""
        try:
            body = json.dumps(dict(draft), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise CountersignError(f"the draft is not JSON: {e}") from None
        status, r = self._request("POST", "/v1/actions", body)
        if status != 201 or not isinstance(r, dict):
            raise ApiError(status, "unexpected", f"submit answered {status}")
        return Submitted(
            id=r["id"],
            status=r["status"],
            agent=r["agent"],
            action_digest=r["action_digest"],
            risk=r["risk"],
            expires_at=int(r["expires_at"]),
        )

    def wait(self, id: Union[str, Submitted], timeout: float = DEFAULT_EXPIRES_IN_S + EXPIRY_GRACE_S) -> bytes:
        """Long-polls until the draft is decided and returns the decision envelope (DSSE JSON
        bytes, not yet verified: see :meth:`verify`). Connection failures and HTTP 429/502–504
        are retried with backoff. Raises :class:`Timeout` after ``timeout`` seconds."""
        action_id = id.id if isinstance(id, Submitted) else id
        path = f"/v1/actions/{urllib.parse.quote(action_id, safe='')}/decision"
        deadline = time.monotonic() + timeout
        backoff = 0.25
        last_error: Optional[Exception] = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                suffix = f" (last error: {last_error})" if last_error else ""
                raise Timeout(f"no decision within {timeout:g}s{suffix}", action_id)
            wait_s = max(1, min(MAX_WAIT_S, int(remaining)))
            started = time.monotonic()
            try:
                status, r = self._request("GET", f"{path}?wait={wait_s}", timeout=wait_s + REQUEST_MARGIN_S)
                backoff = 0.25
            except ApiError as e:
                if e.status not in _TRANSIENT:
                    raise
                last_error = e
                time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2, 4.0)
                continue
            if status == 200 and isinstance(r, dict) and r.get("envelope") is not None:
                return json.dumps(r["envelope"]).encode("utf-8")
            if status != 202:
                raise ApiError(status, "unexpected", f"decision answered {status} without an envelope")
            # Pending: poll again, but not in a tight loop if the broker ignored `wait`.
            time.sleep(max(0.0, min(1.0 - (time.monotonic() - started), deadline - time.monotonic())))

    def verify(self, envelope: bytes, submitted: Submitted) -> Dict[str, Any]:
        """Verifies a decision for execution with :func:`countersign_verify.verify_decision`
        (pinned signature, digest binding, this agent and draft, freshness, approved) and
        records its ``jti`` in the ledger. Returns the signed body; run ``body["action"]``.
        Raises :class:`Rejected` for a genuine no, :class:`Refused` for anything else."""
        try:
            body = verify_decision(
                envelope,
                self.trusted,
                action_id=submitted.id,
                agent=submitted.agent,
                now=int(time.time()),
            )
        except VerificationError as e:
            if e.code == "rejected":
                raise Rejected(str(e), submitted.id) from None
            raise Refused(e.code, f"decision refused ({e.code}): {e}", submitted.id) from None
        self.ledger.consume(body["jti"], body["action_id"])
        return body

    def gate(self, draft: Mapping[str, Any], timeout: Optional[float] = None) -> Approval:
        """Submits ``draft``, waits for the decision, verifies it and records its single use.
        Returns the :class:`Approval`; raises :class:`Rejected`, :class:`Refused`,
        :class:`Timeout` or :class:`ApiError` otherwise — in every such case, do not act.
        ``timeout`` defaults to the draft's lifetime plus a minute."""
        submitted = self.submit(draft)
        if timeout is None:
            timeout = float(draft.get("expires_in_s", DEFAULT_EXPIRES_IN_S)) + EXPIRY_GRACE_S
        envelope = self.wait(submitted, timeout)
        body = self.verify(envelope, submitted)
        if body["action"]["kind"] != draft.get("kind"):
            raise Refused("mismatch", "the approved action is of another kind than the draft", submitted.id)
        return Approval(action=body["action"], body=body, envelope=envelope, submitted=submitted)


def default_client() -> Client:
    """A :class:`Client` configured from the environment."""
    return Client()


def submit(draft: Mapping[str, Any]) -> Submitted:
    """:meth:`Client.submit` with the environment's configuration."""
    return default_client().submit(draft)


def wait(id: Union[str, Submitted], timeout: float = DEFAULT_EXPIRES_IN_S + EXPIRY_GRACE_S) -> bytes:
    """:meth:`Client.wait` with the environment's configuration."""
    return default_client().wait(id, timeout)


def verify(envelope: bytes, submitted: Submitted) -> Dict[str, Any]:
    """:meth:`Client.verify` with the environment's configuration."""
    return default_client().verify(envelope, submitted)


def gate(draft: Mapping[str, Any], timeout: Optional[float] = None) -> Approval:
    """:meth:`Client.gate` with the environment's configuration."""
    return default_client().gate(draft, timeout)

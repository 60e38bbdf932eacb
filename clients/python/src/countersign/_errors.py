"""Exceptions. Every :class:`NotApproved` means: do not act."""

from __future__ import annotations

from typing import Optional


class CountersignError(Exception):
    """Base of every error this package raises."""


class ConfigError(CountersignError):
    """Something needed is missing or unusable: no token, no trust file, a bad API URL."""


class ApiError(CountersignError):
    """The broker answered with its ``{code, message}`` error body (or something else that is
    not a success), or did not answer. ``status`` is the HTTP status (0: no answer —
    connection refused or reset, timeout), ``code`` the broker's error code (e.g.
    ``unauthorized``, ``bad_request``, ``not_found``, ``too_many_requests``; ``unreachable``
    for status 0, ``unexpected`` for an answer that is not the documented JSON)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"broker answered HTTP {status} ({code}): {message}")
        self.status = status
        self.code = code
        self.message = message


class NotApproved(CountersignError):
    """The action must not run. ``reason`` says why; ``action_id`` names the draft when one
    was filed."""

    def __init__(self, reason: str, action_id: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.action_id = action_id


class Rejected(NotApproved):
    """A genuine, verified "no": a human rejected the draft (``reason`` is theirs) or it
    expired undecided (``reason`` is ``expired``)."""


class Refused(NotApproved):
    """The decision must not be trusted or used: bad or unpinned signature, digest mismatch,
    wrong agent or draft, stale, replayed, or an approved action that does not fit the call.
    ``code`` is the verifier's class of refusal (``signature``, ``digest``, ``audience``,
    ``expired``, ``replay``, ``mismatch``, …)."""

    def __init__(self, code: str, reason: str, action_id: Optional[str] = None):
        super().__init__(reason, action_id)
        self.code = code


class Timeout(NotApproved):
    """No decision arrived in time; the draft may still be pending in the app."""

"""The single-use ledger: a decision's ``jti`` is recorded durably before the action runs, so a
replayed envelope — even after a restart — is refused (as the Rust gate's ledger does)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Optional, Union

from ._errors import Refused

#: File name of the ledger inside its directory (the Rust gate's is ``gate.sqlite3``).
LEDGER_FILE = "gate-python.sqlite3"


def default_dir() -> Path:
    """``$COUNTERSIGN_GATE_DIR``, else ``$XDG_DATA_HOME/countersign/gate`` (by default
    ``~/.local/share/countersign/gate``)."""
    explicit = os.environ.get("COUNTERSIGN_GATE_DIR")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "countersign" / "gate"


class Ledger:
    """A SQLite file (WAL, ``synchronous=FULL``) of consumed decision ids. Safe to share
    between threads and processes: each call opens its own connection."""

    def __init__(self, path: Union[str, Path, None] = None):
        """``path`` is the ledger file, or a directory to hold :data:`LEDGER_FILE`; default
        :func:`default_dir`."""
        p = Path(path) if path is not None else default_dir()
        if p.suffix not in (".sqlite3", ".sqlite", ".db"):
            p = p / LEDGER_FILE
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = p
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS consumed ("
                    " jti TEXT PRIMARY KEY, action_id TEXT NOT NULL, consumed_at INTEGER NOT NULL)"
                )
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=30)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def consume(self, jti: str, action_id: str) -> None:
        """Records ``jti`` as used; commits before returning. Raises :class:`Refused` (code
        ``replay``) when it was used before."""
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    "INSERT INTO consumed (jti, action_id, consumed_at) VALUES (?, ?, ?)",
                    (jti, action_id, int(time.time())),
                )
        except sqlite3.IntegrityError:
            raise Refused(
                "replay", f"decision {jti} was already used (replay refused)", action_id
            ) from None
        finally:
            conn.close()

    def used(self, jti: str) -> Optional[str]:
        """The draft id ``jti`` was consumed for, or ``None``."""
        conn = self._connect()
        try:
            row = conn.execute("SELECT action_id FROM consumed WHERE jti = ?", (jti,)).fetchone()
        finally:
            conn.close()
        return None if row is None else str(row[0])

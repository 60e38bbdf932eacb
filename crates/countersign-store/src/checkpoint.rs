//! Signed checkpoints of the audit chain, and the verification of the whole log.
//!
//! The hash chain ([`crate::audit`]) shows that rows were changed, unless whoever changed them
//! also recomputed every later hash — which anyone who can write the database can do. A
//! checkpoint closes that gap: the approver's key signs `(seq, head)`, the sequence number and
//! hash of the newest row, as a DSSE envelope (payload type [`CHECKPOINT_PAYLOAD_TYPE`], body
//! `{"v":1,"seq":…,"head":"<hex>","at":…}` in RFC 8785 form). Rewriting or dropping a row at or
//! before a checkpoint then needs the private key. The broker writes one every
//! [`CHECKPOINT_EVERY`] rows and at shutdown.
//!
//! Limit: rows after the newest checkpoint are protected by the chain only; deleting them
//! together with nothing else is visible only as "rows not yet checkpointed". Export the log
//! (with its checkpoints) elsewhere to keep a copy an attacker on this machine cannot edit.

use countersign_core::digest::canonical_json;
use countersign_core::dsse::Envelope;
use countersign_core::{ApproverKey, TrustedKeys};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::{row_hash, AuditRow, GENESIS};
use crate::row::{collect, corrupt, Columns};
use crate::{Result, Store};

/// DSSE `payloadType` of a checkpoint body.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.countersign.audit-checkpoint.v1+json";

/// The broker signs a checkpoint once this many rows were added since the last one.
pub const CHECKPOINT_EVERY: i64 = 64;

/// The signed body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointBody {
    /// Format version, 1.
    pub v: u32,
    /// Sequence number of the newest row covered.
    pub seq: i64,
    /// That row's hash (hex).
    pub head: String,
    /// When it was signed, Unix seconds.
    pub at: i64,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// What was signed.
    pub body: CheckpointBody,
    /// The signature.
    pub envelope: Envelope,
}

/// Something wrong with the audit log. Every variant means the log was changed after it was
/// written (or a checkpoint was forged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditProblem {
    /// The row's content does not hash to its stored hash.
    #[error("row {seq} was edited: its content does not match its hash")]
    Edited {
        /// The row.
        seq: i64,
    },
    /// Rows are missing between two rows.
    #[error("rows {from}..={to} were deleted")]
    Deleted {
        /// First missing sequence number.
        from: i64,
        /// Last missing sequence number.
        to: i64,
    },
    /// The row links to a row other than its predecessor.
    #[error("row {seq} is out of order: it follows row {follows}, not row {}", .seq - 1)]
    Reordered {
        /// The row.
        seq: i64,
        /// The row whose hash it names as its predecessor.
        follows: i64,
    },
    /// The row's link does not match its predecessor's hash (the predecessor was rewritten).
    #[error("row {seq} does not link to the hash of row {}", .seq - 1)]
    Unlinked {
        /// The row.
        seq: i64,
    },
    /// A checkpoint covers rows that are gone.
    #[error("the log was truncated: a checkpoint covers row {checkpoint}, the last row is {last}")]
    Truncated {
        /// The checkpoint's sequence number.
        checkpoint: i64,
        /// The last row left (0 if none).
        last: i64,
    },
    /// A checkpoint's signature does not verify against the trusted keys, or its body is bad.
    #[error("checkpoint at row {seq} does not verify: {why}")]
    BadCheckpoint {
        /// The checkpoint's sequence number.
        seq: i64,
        /// Why.
        why: String,
    },
    /// A genuine checkpoint names another head than the row now stored at its sequence number.
    #[error("checkpoint at row {seq} signed head {signed}, the log now has {found}")]
    Rewritten {
        /// The checkpoint's sequence number.
        seq: i64,
        /// The signed head hash.
        signed: String,
        /// The hash of the row stored there now.
        found: String,
    },
}

/// The result of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Rows read.
    pub rows: u64,
    /// Sequence number of the last row (0 if none).
    pub last_seq: i64,
    /// Checkpoints that verified.
    pub checkpoints: u64,
    /// Sequence number covered by the newest verified checkpoint (0 if none).
    pub checkpointed_seq: i64,
    /// Everything wrong, in log order; empty when the log is intact.
    pub problems: Vec<AuditProblem>,
}

impl AuditReport {
    /// True when nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// Rows after the newest checkpoint: protected by the chain only.
    pub fn unsigned_tail(&self) -> i64 {
        self.last_seq - self.checkpointed_seq
    }
}

/// Verifies a checkpoint envelope against `trusted` and returns its body.
///
/// # Errors
/// A message saying why it does not verify.
pub fn verify_checkpoint(
    envelope: &Envelope,
    trusted: &TrustedKeys,
) -> std::result::Result<CheckpointBody, String> {
    let verified = envelope
        .verify(CHECKPOINT_PAYLOAD_TYPE, trusted)
        .map_err(|e| e.to_string())?;
    let value = countersign_core::json::parse_strict(&verified.body).map_err(|e| e.to_string())?;
    let body: CheckpointBody = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if body.v != 1 {
        return Err(format!("unsupported version {}", body.v));
    }
    Ok(body)
}

/// Signs `(seq, head)` at `at` with `key`: the body, its envelope, and the envelope as stored.
pub(crate) fn sign_checkpoint(
    key: &ApproverKey,
    seq: i64,
    head: String,
    at: i64,
) -> Result<(CheckpointBody, Envelope, String)> {
    let body = CheckpointBody {
        v: 1,
        seq,
        head,
        at,
    };
    // A struct of integers and strings always canonicalizes.
    let bytes = canonical_json(&body).unwrap_or_default();
    let envelope = Envelope::sign(CHECKPOINT_PAYLOAD_TYPE, &bytes, key);
    let json = serde_json::to_string(&envelope)
        .map_err(|e| corrupt("audit_checkpoints", "envelope_json", e))?;
    Ok((body, envelope, json))
}

/// A stored checkpoint from `seq, envelope_json`.
pub(crate) fn checkpoint_row(r: &impl Columns) -> Result<(i64, Envelope)> {
    let envelope = serde_json::from_str(&r.text(1)?)
        .map_err(|e| corrupt("audit_checkpoints", "envelope_json", e))?;
    Ok((r.int(0)?, envelope))
}

impl Store {
    /// Signs a checkpoint of the current head with `key`, unless the head is already
    /// checkpointed or the log is empty. Returns the new checkpoint.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn checkpoint(&self, key: &ApproverKey, at: i64) -> Result<Option<Checkpoint>> {
        self.checkpoint_if(key, at, 1)
    }

    /// Like [`Store::checkpoint`], but only when at least `every` rows were added since the
    /// last checkpoint.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn checkpoint_if(
        &self,
        key: &ApproverKey,
        at: i64,
        every: i64,
    ) -> Result<Option<Checkpoint>> {
        let mut conn = match self.sqlite() {
            Ok(db) => db.write(),
            Err(pg) => return pg.checkpoint_if(key, at, every),
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let head: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((seq, head)) = head else {
            return Ok(None);
        };
        let last: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints",
            [],
            |r| r.get(0),
        )?;
        if seq - last < every.max(1) {
            return Ok(None);
        }
        let (body, envelope, envelope_json) = sign_checkpoint(key, seq, head, at)?;
        tx.execute(
            "INSERT INTO audit_checkpoints (seq, head, at, keyid, envelope_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![body.seq, body.head, body.at, key.key_id(), envelope_json],
        )?;
        tx.commit()?;
        Ok(Some(Checkpoint { body, envelope }))
    }

    /// All stored checkpoints, oldest first, as stored (not verified).
    ///
    /// # Errors
    /// SQLite errors, or an unreadable envelope.
    pub fn checkpoints(&self) -> Result<Vec<(i64, Envelope)>> {
        let conn = match self.sqlite() {
            Ok(db) => db.read(),
            Err(pg) => return pg.checkpoints(),
        };
        let mut stmt =
            conn.prepare("SELECT seq, envelope_json FROM audit_checkpoints ORDER BY seq")?;
        collect(&mut stmt, [], |r| checkpoint_row(r))
    }

    /// Verifies the whole audit log: every row against its hash and its predecessor, no gaps,
    /// and every checkpoint signed by a key in `trusted` naming the head the log still has.
    ///
    /// # Errors
    /// SQLite errors or unreadable rows (a report is returned for everything else).
    pub fn verify_audit(&self, trusted: &TrustedKeys) -> Result<AuditReport> {
        let rows = self.audit_rows()?;
        let checkpoints = self.checkpoints()?;
        Ok(verify_log(&rows, &checkpoints, trusted))
    }
}

/// [`Store::verify_audit`] over rows and checkpoints already read (e.g. from an export).
pub fn verify_log(
    rows: &[AuditRow],
    checkpoints: &[(i64, Envelope)],
    trusted: &TrustedKeys,
) -> AuditReport {
    let mut problems = Vec::new();
    let position_of = |hash: &str| rows.iter().find(|r| r.hash == hash).map(|r| r.seq);
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_string();
    for row in rows {
        if row.seq > expected_seq {
            problems.push(AuditProblem::Deleted {
                from: expected_seq,
                to: row.seq - 1,
            });
        } else if row.prev_hash != prev_hash {
            match position_of(&row.prev_hash) {
                Some(follows) if follows != row.seq - 1 => problems.push(AuditProblem::Reordered {
                    seq: row.seq,
                    follows,
                }),
                _ => problems.push(AuditProblem::Unlinked { seq: row.seq }),
            }
        }
        let computed = row_hash(
            &row.prev_hash,
            row.seq,
            row.at,
            &row.event,
            row.action_id.as_deref(),
            &row.detail,
        );
        if computed != row.hash
            && !matches!(problems.last(), Some(AuditProblem::Reordered { seq, .. }) if *seq == row.seq)
        {
            problems.push(AuditProblem::Edited { seq: row.seq });
        }
        expected_seq = row.seq + 1;
        prev_hash = row.hash.clone();
    }
    let last_seq = rows.last().map_or(0, |r| r.seq);
    let mut verified = 0;
    let mut checkpointed_seq = 0;
    for (stored_seq, envelope) in checkpoints {
        let body = match verify_checkpoint(envelope, trusted) {
            Ok(body) if body.seq == *stored_seq => body,
            Ok(body) => {
                problems.push(AuditProblem::BadCheckpoint {
                    seq: *stored_seq,
                    why: format!("stored under row {stored_seq}, signed for row {}", body.seq),
                });
                continue;
            }
            Err(why) => {
                problems.push(AuditProblem::BadCheckpoint {
                    seq: *stored_seq,
                    why,
                });
                continue;
            }
        };
        match rows.iter().find(|r| r.seq == body.seq) {
            Some(row) if row.hash == body.head => {
                verified += 1;
                checkpointed_seq = checkpointed_seq.max(body.seq);
            }
            Some(row) => problems.push(AuditProblem::Rewritten {
                seq: body.seq,
                signed: body.head.clone(),
                found: row.hash.clone(),
            }),
            None if body.seq > last_seq => problems.push(AuditProblem::Truncated {
                checkpoint: body.seq,
                last: last_seq,
            }),
            // A hole under a checkpoint is already reported as a deletion.
            None => {}
        }
    }
    AuditReport {
        rows: rows.len() as u64,
        last_seq,
        checkpoints: verified,
        checkpointed_seq,
        problems,
    }
}

/// The audit log as JSON Lines (one JSON object per line, <https://jsonlines.org>): each row
/// `{"type":"row","seq","at","event","action_id","detail","prev_hash","hash"}`, each
/// checkpoint `{"type":"checkpoint","seq","envelope"}` right after the row it covers.
pub fn audit_jsonl(rows: &[AuditRow], checkpoints: &[(i64, Envelope)]) -> Vec<String> {
    let mut out = Vec::with_capacity(rows.len() + checkpoints.len());
    let mut pending = checkpoints.iter().peekable();
    for row in rows {
        out.push(
            serde_json::json!({"type": "row", "seq": row.seq, "at": row.at, "event": row.event,
                "action_id": row.action_id, "detail": row.detail, "prev_hash": row.prev_hash,
                "hash": row.hash})
            .to_string(),
        );
        while let Some((seq, envelope)) = pending.next_if(|(seq, _)| *seq <= row.seq) {
            out.push(
                serde_json::json!({"type": "checkpoint", "seq": seq, "envelope": envelope})
                    .to_string(),
            );
        }
    }
    for (seq, envelope) in pending {
        out.push(
            serde_json::json!({"type": "checkpoint", "seq": seq, "envelope": envelope}).to_string(),
        );
    }
    out
}

/// An exported log read back: its rows and its checkpoints (sequence number, envelope).
pub type ExportedLog = (Vec<AuditRow>, Vec<(i64, Envelope)>);

/// Reads a log written by [`audit_jsonl`] back (strict JSON per line), for
/// [`verify_log`] away from the database.
///
/// # Errors
/// A message naming the first line that is not a row or a checkpoint.
pub fn parse_audit_jsonl(text: &str) -> std::result::Result<ExportedLog, String> {
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
    enum Line {
        Row {
            seq: i64,
            at: i64,
            event: String,
            action_id: Option<String>,
            detail: serde_json::Value,
            prev_hash: String,
            hash: String,
        },
        Checkpoint {
            seq: i64,
            envelope: Envelope,
        },
    }
    let mut rows = Vec::new();
    let mut checkpoints = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value = countersign_core::json::parse_strict(line.as_bytes())
            .map_err(|e| format!("line {}: {e}", n + 1))?;
        match serde_json::from_value(value).map_err(|e| format!("line {}: {e}", n + 1))? {
            Line::Row {
                seq,
                at,
                event,
                action_id,
                detail,
                prev_hash,
                hash,
            } => rows.push(AuditRow {
                seq,
                at,
                event,
                action_id,
                detail,
                prev_hash,
                hash,
            }),
            Line::Checkpoint { seq, envelope } => checkpoints.push((seq, envelope)),
        }
    }
    Ok((rows, checkpoints))
}

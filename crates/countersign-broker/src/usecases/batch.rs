//! Batch approval: only drafts at the lowest risk level, each re-checked and signed on its own.

use std::collections::HashSet;

use countersign_core::api::{ApiError, BatchDraft, BatchRefusal, BatchResult, Status};
use countersign_core::decision::Verdict;
use countersign_core::policy::Requirement;
use countersign_core::RiskLevel;
use countersign_store::ActionRow;

use super::{Broker, BrokerError};

/// Most drafts one batch approval may carry.
pub const MAX_BATCH: usize = 1000;

impl Broker {
    /// Approves each draft of `drafts` that is, at this moment, still pending, unexpired, has
    /// the digest the window showed, and is at the lowest level: risk level `low` both as
    /// stored and as scored again under the policy in force, and a policy requirement of no
    /// more than one approver. Each approved draft gets its own signed decision and audit row
    /// (one transaction each, as [`Broker::decide`]); every other draft is left as it was and
    /// listed in [`BatchResult::refused`] with the reason. A draft above `low` can never be
    /// approved here, whatever the window sent.
    ///
    /// # Errors
    /// [`BrokerError::BadRequest`] for an empty batch, one over [`MAX_BATCH`] drafts, or an id
    /// listed twice; nothing is signed then. Per-draft failures are refusals, not errors.
    pub fn approve_batch(&self, drafts: &[BatchDraft]) -> Result<BatchResult, BrokerError> {
        if drafts.is_empty() {
            return Err(BrokerError::BadRequest(
                "a batch approval needs at least one draft".into(),
            ));
        }
        if drafts.len() > MAX_BATCH {
            return Err(BrokerError::BadRequest(format!(
                "a batch approval takes at most {MAX_BATCH} drafts, not {}",
                drafts.len()
            )));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = drafts.iter().find(|d| !seen.insert(d.id.as_str())) {
            return Err(BrokerError::BadRequest(format!(
                "draft {} is listed twice in the batch",
                dup.id
            )));
        }
        let mut result = BatchResult {
            approved: Vec::new(),
            refused: Vec::new(),
        };
        for d in drafts {
            match self.approve_one_low(d) {
                Ok(()) => result.approved.push(d.id.clone()),
                Err(e) => result.refused.push(BatchRefusal {
                    id: d.id.clone(),
                    error: ApiError::from(&e),
                }),
            }
        }
        Ok(result)
    }

    fn approve_one_low(&self, d: &BatchDraft) -> Result<(), BrokerError> {
        let (row, t) = self.decidable(&d.id, &d.action_digest)?;
        self.check_lowest_level(&row)?;
        self.check_may_approve(&row)?;
        self.sign_and_record(&row, Status::Approved, Verdict::Approved, None, t)?;
        Ok(())
    }

    /// The batch rule: the stored risk and a fresh score under the policy in force are both
    /// `low`, and the policy asks for no more than one approver for this agent, kind and score.
    fn check_lowest_level(&self, row: &ActionRow) -> Result<(), BrokerError> {
        let now_scored = self.score(&row.action);
        let score = row.risk.score.max(now_scored.score);
        if row.risk.level != RiskLevel::Low || now_scored.level != RiskLevel::Low {
            return Err(BrokerError::Conflict(format!(
                "draft {} is {} risk (score {score}); only low-risk drafts are approved in a batch, open it to decide",
                row.id,
                RiskLevel::of(score).as_str()
            )));
        }
        if let Some(p) = self.policy().as_deref() {
            let requirement = p.policy.requirement(&row.agent, row.action.kind, score);
            if !matches!(
                requirement,
                Requirement::OneApprover | Requirement::AutoApprove
            ) {
                return Err(BrokerError::Conflict(format!(
                    "policy serial {} requires {} for draft {} (score {score}); it cannot be approved in a batch",
                    p.policy.serial,
                    requirement.as_str(),
                    row.id
                )));
            }
        }
        Ok(())
    }
}

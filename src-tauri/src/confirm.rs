//! The deliberate second step for risky approvals, raised from Rust.
//!
//! The window has its own Confirm button, but a script running in the webview could call the
//! `approve` command directly. So the command itself asks again, with a native dialog the
//! webview cannot click (tauri-plugin-dialog: a GTK message dialog on Linux), before it signs a
//! draft that is high or critical, or that the policy says needs a lead. Only the "Approve"
//! button proceeds; "Cancel", Escape or closing the dialog sign nothing.

use countersign_broker::Broker;
use countersign_core::api::{ActionDetail, ApiError, ErrorCode};
use countersign_core::policy::Requirement;
use countersign_core::RiskLevel;
use tauri::WebviewWindow;
use tauri_plugin_dialog::{
    DialogExt, MessageDialogButtons, MessageDialogKind, MessageDialogResult,
};

/// Title of the native dialog (the end-to-end tests find the window by it).
pub const DIALOG_TITLE: &str = "Countersign: confirm approval";

/// The button that approves. On Linux the underscore makes `Alt+A` its keyboard shortcut
/// (a GTK mnemonic); Enter alone does not approve, as the focus starts on the text.
#[cfg(target_os = "linux")]
const APPROVE_LABEL: &str = "_Approve";
#[cfg(not(target_os = "linux"))]
const APPROVE_LABEL: &str = "Approve";

/// The button that cancels.
const CANCEL_LABEL: &str = "Cancel";

/// What the confirmation dialog says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The question (the dialog's main line).
    pub question: String,
    /// Agent, kind, target, score and why a second step is asked for.
    pub details: String,
}

/// Whether approving a draft at `level` (and, when a policy is in force, `requirement`) needs
/// the native second step: high and critical risk, and anything the policy reserves to a lead
/// or to two approvers.
pub fn needs_confirmation(level: RiskLevel, requirement: Option<Requirement>) -> bool {
    matches!(level, RiskLevel::High | RiskLevel::Critical)
        || matches!(
            requirement,
            Some(Requirement::LeadRequired | Requirement::TwoApprovers)
        )
}

/// The policy's requirement for `detail`, or for its edit scoring `edited_score` when that is
/// higher (a band's requirement only grows with the score); `None` without a policy.
pub fn requirement_of(
    broker: &Broker,
    detail: &ActionDetail,
    edited_score: Option<u8>,
) -> Option<Requirement> {
    let score = edited_score.map_or(detail.summary.score, |e| e.max(detail.summary.score));
    broker.config().policy.as_deref().map(|p| {
        p.policy
            .requirement(&detail.summary.agent, detail.summary.kind, score)
    })
}

/// The prompt for approving `detail`, or `None` when one click is enough. `edited` is the
/// risk of the approver's edit (score, level) when the approval signs an edit: the stricter of
/// the draft and the edit decides, and the prompt names both scores.
pub fn prompt_for(
    detail: &ActionDetail,
    requirement: Option<Requirement>,
    edited: Option<(u8, RiskLevel)>,
) -> Option<Prompt> {
    let s = &detail.summary;
    let level = edited.map_or(s.level, |(_, l)| l.max(s.level));
    if !needs_confirmation(level, requirement) {
        return None;
    }
    let score = match edited {
        Some((e, el)) if e != s.score => format!(
            "{} ({}) as drafted, {} ({}) as edited",
            s.score,
            s.level.as_str(),
            e,
            el.as_str()
        ),
        _ => format!("{} ({})", s.score, s.level.as_str()),
    };
    let why = if requirement == Some(Requirement::LeadRequired) {
        "The policy requires a lead for this draft."
    } else if requirement == Some(Requirement::TwoApprovers) {
        "The policy requires two approvers for this draft: your signature is the first of two."
    } else {
        "High-risk approvals need this second step."
    };
    let what = if edited.is_some() {
        "Approve your edit of this draft and sign it?"
    } else {
        "Approve this draft and sign it?"
    };
    Some(Prompt {
        question: format!("{what} Risk {}.", level.as_str()),
        details: format!(
            "Agent: {}\nKind: {}\nTarget: {}\nRisk score: {}\n\n{why} Cancel signs nothing.",
            one_line(&s.agent),
            s.kind,
            one_line(&s.target),
            score
        ),
    })
}

/// Agent-supplied text on one line, at most 200 characters, hidden characters dropped (the
/// dialog cannot mark them; the window does).
fn one_line(s: &str) -> String {
    crate::notify::one_line(s, 200)
}

/// Shows `prompt` as a native modal dialog parented to `window` and blocks until the approver
/// answers. `true` only for the Approve button. Must run on a worker thread (the dialog runs
/// on the main thread, which this waits for).
pub fn ask_blocking(window: &WebviewWindow, prompt: &Prompt) -> bool {
    let result = window
        .dialog()
        .message(format!("{}\n\n{}", prompt.question, prompt.details))
        .title(DIALOG_TITLE)
        .kind(MessageDialogKind::Warning)
        .parent(window)
        .buttons(MessageDialogButtons::OkCancelCustom(
            APPROVE_LABEL.into(),
            CANCEL_LABEL.into(),
        ))
        .blocking_show_with_result();
    approved(&result)
}

/// Only the Approve button approves; Cancel, Escape, closing the dialog, anything else: no.
fn approved(result: &MessageDialogResult) -> bool {
    matches!(result, MessageDialogResult::Custom(label) if label == APPROVE_LABEL)
}

/// Runs the dialog for `prompt` on a blocking thread.
///
/// # Errors
/// [`ErrorCode::Cancelled`] when the approver did not press Approve; [`ErrorCode::Internal`]
/// when the dialog could not run. Either way nothing is signed.
pub async fn confirm(window: WebviewWindow, prompt: Prompt) -> Result<(), ApiError> {
    tracing::info!(title = DIALOG_TITLE, "asking for a confirmed approval");
    let yes = tauri::async_runtime::spawn_blocking(move || ask_blocking(&window, &prompt))
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "the confirmation dialog failed; nothing was approved",
            )
        })?;
    if yes {
        tracing::info!("approval confirmed in the dialog");
        Ok(())
    } else {
        tracing::info!("approval cancelled in the dialog");
        Err(ApiError::new(
            ErrorCode::Cancelled,
            "approval cancelled in the confirmation dialog; nothing was signed",
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;
    use countersign_core::api::ActionSummary;

    fn detail(score: u8, level: RiskLevel) -> ActionDetail {
        let action: countersign_core::Action = serde_json::from_value(serde_json::json!({
            "kind": "acl.change",
            "target": "warehouse://analytics/user_data",
            "summary": "grant",
            "payload": {"resource": "analytics.user_data", "grants": []}
        }))
        .unwrap();
        let digest = countersign_core::digest::action_digest(&action).to_string();
        ActionDetail {
            summary: ActionSummary {
                id: "d1".into(),
                action_digest: digest.clone(),
                agent: "ops\u{202E}-bot".into(),
                kind: action.kind,
                target: action.target.clone(),
                summary: "grant".into(),
                status: countersign_core::api::Status::Pending,
                score,
                level,
                created_at: 0,
                expires_at: 600,
            },
            action_digest: digest,
            risk: countersign_core::risk::score(&action),
            review: countersign_core::review::review(&action),
            action,
            callback_url: None,
            decision: None,
            cosign_needed: None,
            cosign: None,
        }
    }

    #[test]
    fn only_high_critical_lead_required_or_two_approver_drafts_need_the_second_step() {
        assert!(!needs_confirmation(RiskLevel::Low, None));
        assert!(!needs_confirmation(RiskLevel::Medium, None));
        assert!(!needs_confirmation(
            RiskLevel::Medium,
            Some(Requirement::OneApprover)
        ));
        assert!(needs_confirmation(RiskLevel::High, None));
        assert!(needs_confirmation(RiskLevel::Critical, None));
        assert!(
            needs_confirmation(RiskLevel::Low, Some(Requirement::LeadRequired)),
            "a lead_required draft is confirmed whatever its band"
        );
        assert!(
            needs_confirmation(RiskLevel::Medium, Some(Requirement::TwoApprovers)),
            "a two_approvers draft is confirmed whatever its band"
        );
    }

    #[test]
    fn the_prompt_names_agent_kind_target_and_score_without_hidden_characters() {
        let p = prompt_for(&detail(90, RiskLevel::Critical), None, None).unwrap();
        assert_eq!(p.question, "Approve this draft and sign it? Risk critical.");
        assert!(p.details.contains("Agent: ops-bot\n"), "{}", p.details);
        assert!(p.details.contains("Kind: acl.change\n"), "{}", p.details);
        assert!(p
            .details
            .contains("Target: warehouse://analytics/user_data\n"));
        assert!(p.details.contains("Risk score: 90 (critical)"));
        assert!(prompt_for(&detail(30, RiskLevel::Medium), None, None).is_none());
    }

    #[test]
    fn an_edit_that_raises_the_risk_needs_the_second_step_and_both_scores_are_named() {
        let p = prompt_for(
            &detail(30, RiskLevel::Medium),
            None,
            Some((80, RiskLevel::Critical)),
        )
        .unwrap();
        assert!(p.question.starts_with("Approve your edit"));
        assert!(
            p.details
                .contains("Risk score: 30 (medium) as drafted, 80 (critical) as edited"),
            "{}",
            p.details
        );
        assert!(
            prompt_for(
                &detail(80, RiskLevel::Critical),
                None,
                Some((10, RiskLevel::Low))
            )
            .is_some(),
            "an edit cannot lower a critical draft below the second step"
        );
    }

    #[test]
    fn only_the_approve_button_approves() {
        assert!(approved(&MessageDialogResult::Custom(APPROVE_LABEL.into())));
        assert!(!approved(&MessageDialogResult::Custom(CANCEL_LABEL.into())));
        assert!(!approved(&MessageDialogResult::Cancel));
        assert!(!approved(&MessageDialogResult::Ok));
        assert!(!approved(&MessageDialogResult::Yes));
    }
}

//! Tauri commands: thin adapters over the broker's use cases. Each one is granted to the main
//! window only by capabilities/main.json, and checks the calling window's label again here.

use countersign_broker::{Broker, BrokerError, DecisionInput};
use countersign_core::api::{
    ActionDetail, ActionSummary, ApiError, AppInfo, BatchDraft, BatchResult, DecisionInfo,
    EditPreview, ErrorCode, HistoryEntry, NewAgent,
};
use countersign_core::diff::{lines_page, DiffLine, TextDiff, OUTLINE_ABOVE};
use countersign_core::policy_view::{PolicyPreview, PolicyView, DEFAULT_PREVIEW_DRAFTS};
use countersign_core::review::Change;
use countersign_core::Action;
use tauri::{State, WebviewWindow};

use crate::{confirm, AppState};

/// Most pending drafts sent to the window at once (the queue is virtualised; 10,000 stay
/// smooth). Well above what agents can file: each may hold 100 pending drafts.
pub(crate) const QUEUE_PENDING_LIMIT: u32 = 50_000;

/// Most decided drafts shown under the pending ones (the History tab lists more).
const QUEUE_DECIDED_LIMIT: u32 = 1_000;

/// Most history rows sent at once.
const HISTORY_LIMIT: u32 = 1_000;

pub(crate) fn main_window_only(window: &WebviewWindow) -> Result<(), ApiError> {
    if window.label() == "main" {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "decisions are taken only in the main review window",
        ))
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    broker: &Broker,
    f: impl FnOnce(Broker) -> Result<T, BrokerError> + Send + 'static,
) -> Result<T, ApiError> {
    let broker = broker.clone();
    tauri::async_runtime::spawn_blocking(move || f(broker))
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "internal task failed; nothing was decided",
            )
        })?
        .map_err(ApiError::from)
}

/// The queue: pending drafts first, then recent decided ones.
#[tauri::command]
pub async fn list_actions(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<Vec<ActionSummary>, ApiError> {
    main_window_only(&window)?;
    let rows = blocking(&state.broker, |b| {
        b.list(QUEUE_PENDING_LIMIT, QUEUE_DECIDED_LIMIT)
    })
    .await?;
    // scripts/bench-memory.sh waits for this line to know the window has the whole queue.
    tracing::debug!(rows = rows.len(), "queue listed");
    Ok(rows)
}

/// Decided drafts, most recently decided first, with who decided, when and why.
#[tauri::command]
pub async fn list_history(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<Vec<HistoryEntry>, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, |b| b.history(HISTORY_LIMIT)).await
}

/// The lines of one draft's diff, kept while the window shows its outline.
pub struct DiffPages {
    /// The draft.
    id: String,
    /// Its action digest: the lines belong to exactly that action.
    digest: String,
    /// Every line of the diff, in order.
    lines: Vec<DiffLine>,
}

/// The change's line diff, when it has one.
fn text_diff(change: &mut Change) -> Option<&mut TextDiff> {
    match change {
        Change::Text { diff, .. } | Change::Json { diff, .. } => Some(diff),
        _ => None,
    }
}

/// Reads draft `id` and, when its diff has more than [`OUTLINE_ABOVE`] lines, outlines it (the
/// lines are returned beside it).
fn outlined_detail(
    b: &Broker,
    id: &str,
) -> Result<(ActionDetail, Option<Vec<DiffLine>>), BrokerError> {
    let started = std::time::Instant::now();
    let mut detail = b.detail(id)?;
    let lines = text_diff(&mut detail.review.change).and_then(|d| d.outlined(OUTLINE_ABOVE));
    tracing::debug!(
        id,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        outlined = lines.as_ref().map_or(0, Vec::len),
        "draft read and reviewed"
    );
    Ok((detail, lines))
}

/// One draft with its diff, impact, risk and decision. A diff of more than [`OUTLINE_ABOVE`]
/// lines comes as an outline (every line's tag and number, no text: `TextDiff.outline`); the
/// window fetches the text of the lines it shows with [`get_diff_lines`].
#[tauri::command]
pub async fn get_action(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
) -> Result<ActionDetail, ApiError> {
    main_window_only(&window)?;
    let (detail, lines) = blocking(&state.broker, move |b| outlined_detail(&b, &id)).await?;
    if let Some(lines) = lines {
        keep_pages(&state, &detail, lines);
    }
    Ok(detail)
}

fn keep_pages(state: &AppState, detail: &ActionDetail, lines: Vec<DiffLine>) {
    let pages = DiffPages {
        id: detail.summary.id.clone(),
        digest: detail.action_digest.clone(),
        lines,
    };
    // The previous draft's lines are dropped: one large diff is kept at a time.
    *state.diff_pages.lock().unwrap_or_else(|e| e.into_inner()) = Some(pages);
}

/// Lines `[from, to)` (at most 5,000) of the outlined diff of draft `id`, whose action digest
/// the window was shown as `digest`. Served from the lines kept by [`get_action`]; when another
/// draft's were kept since, the diff is computed again.
///
/// # Errors
/// [`ErrorCode::Conflict`] when the draft's digest is not `digest`; [`ErrorCode::BadRequest`]
/// for a range outside the diff or too long, or a draft whose diff is not outlined;
/// [`ErrorCode::NotFound`].
#[tauri::command]
pub async fn get_diff_lines(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    digest: String,
    from: u32,
    to: u32,
) -> Result<Vec<DiffLine>, ApiError> {
    main_window_only(&window)?;
    let page = |pages: &DiffPages| lines_page(&pages.lines, from, to).map(<[DiffLine]>::to_vec);
    {
        let kept = state.diff_pages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = kept.as_ref().filter(|p| p.id == id && p.digest == digest) {
            return page(p).map_err(|m| ApiError::new(ErrorCode::BadRequest, m));
        }
    }
    let wanted = id.clone();
    let (detail, lines) = blocking(&state.broker, move |b| outlined_detail(&b, &wanted)).await?;
    if detail.action_digest != digest {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("draft {id} is no longer the action shown (digest {digest})"),
        ));
    }
    let Some(lines) = lines else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("the diff of draft {id} is small enough to come whole with the draft"),
        ));
    };
    let pages = DiffPages { id, digest, lines };
    let result = page(&pages).map_err(|m| ApiError::new(ErrorCode::BadRequest, m));
    *state.diff_pages.lock().unwrap_or_else(|e| e.into_inner()) = Some(pages);
    result
}

/// Asks the approver again, with a native dialog, before a high-risk (or lead-required)
/// approval of draft `id`; `edited` is the edit's (score, level) when an edit is signed.
/// Returns at once when one click is enough, or when `shown_digest` is no longer the draft's
/// (the decision itself then refuses, naming the conflict, and no dialog asks about it).
///
/// # Errors
/// [`ErrorCode::Cancelled`] unless the approver pressed Approve; broker errors reading the draft.
pub(crate) async fn second_step(
    window: &WebviewWindow,
    broker: &Broker,
    id: &str,
    shown_digest: &str,
    edited: Option<(u8, countersign_core::RiskLevel)>,
) -> Result<(), ApiError> {
    let read = id.to_string();
    let edited_score = edited.map(|(score, _)| score);
    let (detail, requirement) = blocking(broker, move |b| {
        let d = b.detail(&read)?;
        let r = confirm::requirement_of(&b, &d, edited_score);
        Ok((d, r))
    })
    .await?;
    if detail.action_digest != shown_digest {
        return Ok(());
    }
    match confirm::prompt_for(&detail, requirement, edited) {
        Some(prompt) => confirm::confirm(window.clone(), prompt).await,
        None => Ok(()),
    }
}

/// Approves the draft `id` as shown: `action_digest` must be the digest the window displayed.
/// A high or critical draft (or one the policy reserves to a lead) is signed only after the
/// approver presses Approve in a native confirmation dialog ([`confirm`]).
///
/// # Errors
/// [`ErrorCode::Cancelled`] when the dialog was cancelled; otherwise as [`Broker::decide`].
#[tauri::command]
pub async fn approve(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    action_digest: String,
) -> Result<DecisionInfo, ApiError> {
    main_window_only(&window)?;
    second_step(&window, &state.broker, &id, &action_digest, None).await?;
    blocking(&state.broker, move |b| {
        b.decide(&id, &action_digest, DecisionInput::Approve)
    })
    .await
}

/// Approves several low-risk drafts at once, each as shown (`drafts` pairs every id with the
/// digest the window showed). The broker re-checks each one (pending, same digest, low risk
/// under the policy in force) and signs each on its own; the others stay pending and come
/// back in [`BatchResult::refused`] with the reason.
#[tauri::command]
pub async fn approve_batch(
    window: WebviewWindow,
    state: State<'_, AppState>,
    drafts: Vec<BatchDraft>,
) -> Result<BatchResult, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, move |b| b.approve_batch(&drafts)).await
}

/// The diff, impact, risk and digest of the approver's edit of draft `id`. Read-only: nothing
/// is stored or signed.
#[tauri::command]
pub async fn preview_edit(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    action: Action,
) -> Result<EditPreview, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, move |b| b.preview_edit(&id, &action)).await
}

/// Approves the approver's edit of draft `id`; `action_digest` is the digest of the draft the
/// window displayed before the edit. The signed decision carries the edited action. When the
/// draft or the edit is high or critical (or lead-required), the native dialog asks first.
///
/// # Errors
/// [`ErrorCode::Cancelled`] when the dialog was cancelled; otherwise as
/// [`Broker::decide_edited`].
#[tauri::command]
pub async fn approve_edited(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    action_digest: String,
    action: Action,
) -> Result<DecisionInfo, ApiError> {
    main_window_only(&window)?;
    let (pid, paction) = (id.clone(), action.clone());
    let preview = blocking(&state.broker, move |b| b.preview_edit(&pid, &paction)).await?;
    second_step(
        &window,
        &state.broker,
        &id,
        &action_digest,
        Some((preview.risk.score, preview.risk.level)),
    )
    .await?;
    blocking(&state.broker, move |b| {
        b.decide_edited(&id, &action_digest, action)
    })
    .await
}

/// Rejects the draft `id` with a reason the agent receives.
#[tauri::command]
pub async fn reject(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    action_digest: String,
    reason: String,
) -> Result<DecisionInfo, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, move |b| {
        b.decide(&id, &action_digest, DecisionInput::Reject { reason })
    })
    .await
}

/// Creates an agent identity; the token is returned once.
#[tauri::command]
pub async fn add_agent(
    window: WebviewWindow,
    state: State<'_, AppState>,
    name: String,
) -> Result<NewAgent, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, move |b| b.add_agent(&name)).await
}

/// What the window shows about the app.
#[tauri::command]
pub async fn app_info(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<AppInfo, ApiError> {
    main_window_only(&window)?;
    let (approver, keyid) = state.broker.approver();
    Ok(AppInfo {
        api_url: state.api_url.clone(),
        approver,
        keyid,
        data_dir: state.data_dir.display().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The policy in force, the last refusal, and whether this approver may edit it. Everyone can
/// read it; [`sign_policy`] re-checks the lead key.
#[tauri::command]
pub async fn policy_view(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<PolicyView, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, |b| Ok(b.policy_view())).await
}

/// "What would change": the last `limit` drafts (default 200) rescored under the edited policy
/// `text`, computed here from the store (the window's own figures are never trusted).
#[tauri::command]
pub async fn preview_policy(
    window: WebviewWindow,
    state: State<'_, AppState>,
    text: String,
    limit: Option<u32>,
) -> Result<PolicyPreview, ApiError> {
    main_window_only(&window)?;
    let limit = limit.unwrap_or(DEFAULT_PREVIEW_DRAFTS);
    blocking(&state.broker, move |b| b.preview_policy(&text, limit)).await
}

/// Signs the edited policy `text` with the local key (which must be a pinned lead key), writes
/// it and its signature atomically, and puts it in force through the same reload as a file
/// change. Returns the new view.
#[tauri::command]
pub async fn sign_policy(
    window: WebviewWindow,
    state: State<'_, AppState>,
    text: String,
) -> Result<PolicyView, ApiError> {
    main_window_only(&window)?;
    blocking(&state.broker, move |b| b.sign_and_apply_policy(&text)).await
}

/// The desktop shell's state: whether notifications are paused (tray) and until when, and the
/// reminder interval. Pushed again as the `shell-state` event whenever the pause changes.
#[tauri::command]
pub async fn shell_state(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<countersign_core::api::ShellState, ApiError> {
    main_window_only(&window)?;
    Ok(crate::shell::state(state.desk.paused_until()))
}

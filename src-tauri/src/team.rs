//! Team mode in the desktop app: join a team server with the approver key (an Ed25519
//! challenge, no password), follow its queue live, review with the same diff, impact and
//! score, and decide by signing here and uploading only the signature. The client itself
//! (roster verification, challenge, body building, signing, the event stream, the session
//! file) is [`countersign_broker::team_client`], shared with `countersign team`.
//!
//! The session is kept in `<data dir>/team-session.json` (0600), so a restart stays joined. A
//! background task follows `GET /v1/team/events`: every event goes to the window as
//! [`TEAM_EVENT`], the link's state as [`TEAM_STATUS`]; a draft the server routes to this
//! approver (`notify`) raises one desktop notification (the local drafts' notifier and its
//! pause). A broken stream is reopened with backoff (1 s doubling to a minute); a session the
//! server no longer knows stops the task and the window asks to log in again.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use countersign_broker::team_client::{
    self, Decision, LoginTarget, SavedSession, TeamClient, TeamClientError,
};
use countersign_core::api::{ApiError, ErrorCode};
use countersign_core::decision::Verdict;
use countersign_core::team::{
    Claim, SignOutcome, TeamConnection, TeamDraft, TeamDraftDetail, TeamEvent, TeamLink,
};
use tauri::{AppHandle, Emitter, State, WebviewWindow};

use crate::commands::main_window_only;
use crate::notify::{one_line, Bubble, Desk};
use crate::pause::Alert;
use crate::{confirm, AppState};

/// Event carrying each [`TeamEvent`] of the team server's stream.
pub const TEAM_EVENT: &str = "team-event";

/// Event carrying the [`TeamLink`] whenever the link changes (`null` after leaving).
pub const TEAM_STATUS: &str = "team-status";

/// Longest wait between two attempts to reopen the event stream.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The wait before attempt `failures` + 1 to reopen the stream: 1 s, doubling, at most
/// [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(MAX_BACKOFF)
}

/// What the follower tells the world: the window, and the desktop notifications.
pub trait TeamSink: Send + Sync + 'static {
    /// The link changed.
    fn status(&self, link: &TeamLink);
    /// An event of the stream.
    fn event(&self, event: &TeamEvent);
    /// A notification to show.
    fn notify(&self, bubble: Bubble);
}

/// Decides which stream events raise a desktop notification: a pending draft the server
/// routes to this approver (`notify`), once per draft, unless someone already reviews it or
/// this approver signed it already. A draft notified before and later escalated is not
/// notified again; a non-lead first hears of a lead-required draft when it escalates.
#[derive(Debug, Default)]
pub struct NotifyOnce {
    shown: HashSet<String>,
}

impl NotifyOnce {
    /// The notification for `event`, if any, for approver `me` of team `team`.
    pub fn bubble(&mut self, event: &TeamEvent, team: &str, me: &str) -> Option<Bubble> {
        match event {
            TeamEvent::Snapshot { drafts } => {
                let pending: HashSet<&str> = drafts.iter().map(|d| d.summary.id.as_str()).collect();
                self.shown.retain(|id| pending.contains(id.as_str()));
                None
            }
            TeamEvent::Decided { id, .. } => {
                self.shown.remove(id);
                None
            }
            TeamEvent::Pending { draft, notify } => {
                let fresh = *notify
                    && draft.claim.is_none()
                    && !draft.signers.iter().any(|s| s == me)
                    && self.shown.insert(draft.summary.id.clone());
                fresh.then(|| team_bubble(draft, team))
            }
        }
    }
}

/// The notification for a team draft.
pub fn team_bubble(d: &TeamDraft, team: &str) -> Bubble {
    let s = &d.summary;
    let mut body = one_line(&s.summary, 120);
    if !d.signers.is_empty() {
        body += &format!(" · signed by {}", one_line(&d.signers.join(", "), 60));
    }
    if d.escalated {
        body += " · waited unclaimed";
    }
    Bubble {
        summary: format!(
            "Team {}: {} wants {} — {} risk ({})",
            one_line(team, 40),
            one_line(&s.agent, 40),
            s.kind,
            s.level.as_str(),
            s.score
        ),
        body,
        level: s.level,
        ids: vec![s.id.clone()],
        team: true,
    }
}

/// The window's view of a saved session.
pub fn link_of(saved: &SavedSession, connection: TeamConnection) -> TeamLink {
    let s = &saved.session;
    TeamLink {
        server: saved.server.clone(),
        team: s.team.clone(),
        approver: s.approver.clone(),
        keyid: s.keyid.clone(),
        role: s.role.clone(),
        expires_at: s.expires_at,
        roster_serial: saved.roster_serial,
        lead_trust: saved.lead_trust.as_ref().map(|p| p.display().to_string()),
        ca_cert: saved.ca_cert.as_ref().map(|p| p.display().to_string()),
        connection,
        error: None,
        retry_in_s: None,
        version: next_version(),
    }
}

/// The next [`TeamLink::version`]: one counter for the app's life, so a link from a later join
/// is newer than any state of an earlier one.
fn next_version() -> u64 {
    static VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

type Link = Arc<Mutex<TeamLink>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set_link(link: &Link, sink: &dyn TeamSink, f: impl FnOnce(&mut TeamLink)) {
    let now = {
        let mut l = lock(link);
        f(&mut l);
        l.version = next_version();
        l.clone()
    };
    sink.status(&now);
}

/// Follows the team's event stream until the session ends (or the task is aborted): each
/// event to `sink`, notifications as [`NotifyOnce`] decides, reconnecting with [`backoff`].
pub async fn follow(client: TeamClient, link: Link, sink: Arc<dyn TeamSink>) {
    let mut notified = NotifyOnce::default();
    let (team, me) = {
        let s = &client.saved().session;
        (s.team.clone(), s.approver.clone())
    };
    let mut failures = 0u32;
    loop {
        set_link(&link, sink.as_ref(), |l| {
            l.connection = TeamConnection::Connecting;
            l.retry_in_s = None;
        });
        let error = match client.events().await {
            Ok(mut stream) => {
                let mut first = true;
                loop {
                    match stream.next().await {
                        Ok(Some(event)) => {
                            if first {
                                // Live once the snapshot arrived: the window's list is whole.
                                first = false;
                                failures = 0;
                                set_link(&link, sink.as_ref(), |l| {
                                    l.connection = TeamConnection::Live;
                                    l.error = None;
                                });
                            }
                            if let Some(b) = notified.bubble(&event, &team, &me) {
                                sink.notify(b);
                            }
                            sink.event(&event);
                        }
                        Ok(None) => {
                            break TeamClientError::Answer(
                                "the server ended the event stream".into(),
                            )
                        }
                        Err(e) => break e,
                    }
                }
            }
            Err(e) => e,
        };
        if error.session_ended() {
            tracing::warn!("team session ended: {error}");
            set_link(&link, sink.as_ref(), |l| {
                l.connection = TeamConnection::Expired;
                l.error = Some(error.to_string());
                l.retry_in_s = None;
            });
            return;
        }
        let wait = backoff(failures);
        failures = failures.saturating_add(1);
        tracing::warn!(
            "team event stream: {error}; retrying in {} s",
            wait.as_secs()
        );
        set_link(&link, sink.as_ref(), |l| {
            l.connection = TeamConnection::Retrying;
            l.error = Some(error.to_string());
            l.retry_in_s = Some(wait.as_secs() as u32);
        });
        tokio::time::sleep(wait).await;
    }
}

/// The window and the desktop notifications.
struct WindowSink {
    app: AppHandle,
    desk: Arc<Desk>,
}

impl TeamSink for WindowSink {
    fn status(&self, link: &TeamLink) {
        if let Err(e) = self.app.emit_to("main", TEAM_STATUS, link) {
            tracing::warn!("team-status event not delivered: {e}");
        }
    }

    fn event(&self, event: &TeamEvent) {
        if let Err(e) = self.app.emit_to("main", TEAM_EVENT, event) {
            tracing::warn!("team-event not delivered: {e}");
        }
    }

    fn notify(&self, bubble: Bubble) {
        // D-Bus calls block: off the async runtime.
        let desk = self.desk.clone();
        tauri::async_runtime::spawn_blocking(move || {
            desk.show(&bubble, Alert::NewDraft(bubble.level));
        });
    }
}

/// The joined team: its client, the link the window sees, the follower task.
struct Joined {
    client: TeamClient,
    link: Link,
    follower: Option<tauri::async_runtime::JoinHandle<()>>,
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }
}

/// The team state the commands share (managed by Tauri).
pub struct TeamState {
    data_dir: PathBuf,
    sink: Arc<WindowSink>,
    joined: Mutex<Option<Joined>>,
}

impl TeamState {
    /// The state for the app, joined again when `<data_dir>/team-session.json` holds a
    /// session (an expired one is shown as such, to log in again).
    pub fn resume(app: AppHandle, desk: Arc<Desk>, data_dir: PathBuf) -> TeamState {
        let state = TeamState {
            sink: Arc::new(WindowSink { app, desk }),
            joined: Mutex::new(None),
            data_dir,
        };
        match team_client::load_session(&state.data_dir) {
            Ok(saved) => {
                if let Err(e) = state.start(saved) {
                    tracing::warn!("team session not resumed: {e}");
                }
            }
            Err(TeamClientError::NoSession(_)) => {}
            Err(e) => tracing::warn!("team session not resumed: {e}"),
        }
        state
    }

    /// Starts following `saved` (replacing any previous team).
    fn start(&self, saved: SavedSession) -> Result<TeamLink, TeamClientError> {
        let expired = saved.session.expires_at <= countersign_broker::now();
        let client = TeamClient::new(saved)?;
        let mut first = link_of(client.saved(), TeamConnection::Connecting);
        if expired {
            first.connection = TeamConnection::Expired;
            first.error = Some(TeamClientError::SessionExpired.to_string());
        }
        let link: Link = Arc::new(Mutex::new(first.clone()));
        let follower = (!expired).then(|| {
            let sink: Arc<dyn TeamSink> = self.sink.clone();
            tauri::async_runtime::spawn(follow(client.clone(), link.clone(), sink))
        });
        *lock(&self.joined) = Some(Joined {
            client,
            link,
            follower,
        });
        self.sink.status(&first);
        Ok(first)
    }

    /// The client, or why there is none.
    fn client(&self) -> Result<TeamClient, ApiError> {
        let joined = lock(&self.joined);
        match joined.as_ref() {
            None => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "not joined to a team: join one first",
            )),
            Some(j) if lock(&j.link).connection == TeamConnection::Expired => Err(ApiError::new(
                ErrorCode::Unauthorized,
                TeamClientError::SessionExpired.to_string(),
            )),
            Some(j) => Ok(j.client.clone()),
        }
    }

    /// Maps a failure to the window's error; a session that ended stops the follower and
    /// marks the link expired (the window asks to log in again).
    fn failed(&self, e: TeamClientError) -> ApiError {
        if e.session_ended() {
            let link = {
                let mut joined = lock(&self.joined);
                joined.as_mut().map(|j| {
                    if let Some(f) = j.follower.take() {
                        f.abort();
                    }
                    let mut l = lock(&j.link);
                    l.connection = TeamConnection::Expired;
                    l.error = Some(e.to_string());
                    l.retry_in_s = None;
                    l.clone()
                })
            };
            if let Some(l) = link {
                self.sink.status(&l);
            }
        }
        e.into()
    }

    fn link(&self) -> Option<TeamLink> {
        lock(&self.joined).as_ref().map(|j| lock(&j.link).clone())
    }
}

/// The team link (server, team, approver, role, stream state), `null` when not joined.
#[tauri::command]
pub async fn team_status(
    window: WebviewWindow,
    team: State<'_, TeamState>,
) -> Result<Option<TeamLink>, ApiError> {
    main_window_only(&window)?;
    Ok(team.link())
}

/// Joins the team server at `server`: its roster must verify against the lead keys pinned in
/// `lead_trust` (never older than a roster seen before from it), this app's approver key must
/// be a live member, and the login challenge is signed with it. The session is saved (0600)
/// and the queue followed from now on.
///
/// # Errors
/// `bad_request` for the URL or an unreadable file; `forbidden` when the roster does not
/// verify or the key is not in it; `internal` when the server cannot be reached (the message
/// says why); the server's own refusals.
#[tauri::command]
pub async fn team_join(
    window: WebviewWindow,
    state: State<'_, AppState>,
    team: State<'_, TeamState>,
    server: String,
    lead_trust: String,
    ca_cert: Option<String>,
) -> Result<TeamLink, ApiError> {
    main_window_only(&window)?;
    let lead_trust = lead_trust.trim();
    if lead_trust.is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the lead trust file (the team's pinned lead keys) is required",
        ));
    }
    let target = LoginTarget {
        server,
        lead_trust: PathBuf::from(lead_trust),
        ca_cert: ca_cert
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .map(PathBuf::from),
    };
    let previous = team_client::load_session(&team.data_dir).ok();
    let done = team_client::login(&target, state.broker.signer_key(), previous.as_ref())
        .await
        .map_err(ApiError::from)?;
    team_client::save_session(&team.data_dir, &done.saved).map_err(ApiError::from)?;
    tracing::info!(
        team = %done.saved.session.team,
        server = %done.saved.server,
        role = %done.role,
        "joined the team"
    );
    team.start(done.saved).map_err(ApiError::from)
}

/// Leaves the team: ends the session on the server (when reachable), stops following and
/// forgets the saved session.
#[tauri::command]
pub async fn team_leave(window: WebviewWindow, team: State<'_, TeamState>) -> Result<(), ApiError> {
    main_window_only(&window)?;
    let joined = lock(&team.joined).take();
    if let Some(j) = joined {
        if let Err(e) = j.client.logout().await {
            // The session is forgotten here either way; the server's expires on its own.
            tracing::warn!("team logout: {e}");
        }
    }
    team_client::forget_session(&team.data_dir).map_err(ApiError::from)?;
    if let Err(e) = team.sink.app.emit_to("main", TEAM_STATUS, None::<TeamLink>) {
        tracing::warn!("team-status event not delivered: {e}");
    }
    Ok(())
}

/// The team's pending drafts.
#[tauri::command]
pub async fn team_drafts(
    window: WebviewWindow,
    team: State<'_, TeamState>,
) -> Result<Vec<TeamDraft>, ApiError> {
    main_window_only(&window)?;
    let client = team.client()?;
    client.drafts().await.map_err(|e| team.failed(e))
}

/// One team draft with its diff, impact and risk; its digest recomputed here.
#[tauri::command]
pub async fn team_draft(
    window: WebviewWindow,
    team: State<'_, TeamState>,
    id: String,
) -> Result<TeamDraftDetail, ApiError> {
    main_window_only(&window)?;
    let client = team.client()?;
    client.draft(&id).await.map_err(|e| team.failed(e))
}

/// Marks a team draft "in review" by this approver.
#[tauri::command]
pub async fn team_claim(
    window: WebviewWindow,
    team: State<'_, TeamState>,
    id: String,
) -> Result<Claim, ApiError> {
    main_window_only(&window)?;
    let client = team.client()?;
    client.claim(&id).await.map_err(|e| team.failed(e))
}

/// Gives up this approver's claim of a team draft.
#[tauri::command]
pub async fn team_release(
    window: WebviewWindow,
    team: State<'_, TeamState>,
    id: String,
) -> Result<(), ApiError> {
    main_window_only(&window)?;
    let client = team.client()?;
    client.release(&id).await.map_err(|e| team.failed(e))
}

/// Approves team draft `id` as shown (`action_digest` is the digest the window displayed):
/// after the native confirmation that risky or lead/two-approver drafts ask for, signs here
/// and uploads the signature. Returns released, or awaiting more signatures.
///
/// # Errors
/// `cancelled` when the dialog was cancelled; `conflict` when the draft changed or its
/// digest does not match its action; `unauthorized` when the session ended; the server's
/// refusals (e.g. this key already signed).
#[tauri::command]
pub async fn team_approve(
    window: WebviewWindow,
    state: State<'_, AppState>,
    team: State<'_, TeamState>,
    id: String,
    action_digest: String,
) -> Result<SignOutcome, ApiError> {
    main_window_only(&window)?;
    let client = team.client()?;
    let shown = client.draft(&id).await.map_err(|e| team.failed(e))?;
    if shown.detail.action_digest == action_digest {
        if let Some(prompt) =
            confirm::prompt_for(&shown.detail, Some(shown.draft.requirement), None)
        {
            confirm::confirm(window.clone(), prompt).await?;
        }
    }
    let decision = Decision {
        verdict: Verdict::Approved,
        reason: None,
        shown_digest: Some(action_digest),
    };
    let done = client
        .decide(state.broker.signer_key(), &id, &decision)
        .await
        .map_err(|e| team.failed(e))?;
    Ok(done.outcome)
}

/// Rejects team draft `id` as shown, with a reason the agent receives (signed here).
#[tauri::command]
pub async fn team_reject(
    window: WebviewWindow,
    state: State<'_, AppState>,
    team: State<'_, TeamState>,
    id: String,
    action_digest: String,
    reason: String,
) -> Result<SignOutcome, ApiError> {
    main_window_only(&window)?;
    if reason.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "a rejection needs a reason (the agent receives it)",
        ));
    }
    let client = team.client()?;
    let decision = Decision {
        verdict: Verdict::Rejected,
        reason: Some(reason),
        shown_digest: Some(action_digest),
    };
    let done = client
        .decide(state.broker.signer_key(), &id, &decision)
        .await
        .map_err(|e| team.failed(e))?;
    Ok(done.outcome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;
    use countersign_core::action::ActionKind;
    use countersign_core::api::{ActionSummary, Status};
    use countersign_core::cosign::Required;
    use countersign_core::policy::Requirement;
    use countersign_core::RiskLevel;

    fn draft(id: &str) -> TeamDraft {
        TeamDraft {
            summary: ActionSummary {
                id: id.into(),
                action_digest: "sha256:00".into(),
                agent: "deploy-bot".into(),
                kind: ActionKind::ShellExec,
                target: "host://ci".into(),
                summary: "restart\nthe runner".into(),
                status: Status::Pending,
                score: 55,
                level: RiskLevel::Medium,
                created_at: 1,
                expires_at: 2,
            },
            requirement: Requirement::OneApprover,
            required: Required {
                approvals: 1,
                lead: false,
            },
            signers: vec![],
            claim: None,
            escalated: false,
        }
    }

    fn pending(d: TeamDraft, notify: bool) -> TeamEvent {
        TeamEvent::Pending {
            draft: Box::new(d),
            notify,
        }
    }

    #[test]
    fn a_routed_draft_notifies_once_and_not_while_in_review_or_signed_by_me() {
        let mut n = NotifyOnce::default();
        assert!(n
            .bubble(&pending(draft("a"), false), "payments", "ana")
            .is_none());
        let b = n
            .bubble(&pending(draft("a"), true), "payments", "ana")
            .unwrap();
        assert_eq!(
            b.summary,
            "Team payments: deploy-bot wants shell.exec — medium risk (55)"
        );
        assert_eq!(b.body, "restart the runner");
        assert!(b.team, "its Open opens the Team view");
        assert!(
            n.bubble(&pending(draft("a"), true), "payments", "ana")
                .is_none(),
            "a claim or signature on the same draft does not notify again"
        );
        let mut claimed = draft("b");
        claimed.claim = Some(countersign_core::team::Claim {
            approver: "bo".into(),
            keyid: "k".into(),
            until: 9,
        });
        assert!(n
            .bubble(&pending(claimed, true), "payments", "ana")
            .is_none());
        let mut mine = draft("c");
        mine.signers = vec!["ana".into()];
        assert!(n.bubble(&pending(mine, true), "payments", "ana").is_none());
        // Decided, then (say) resubmitted under the same id: notified again.
        n.bubble(
            &TeamEvent::Decided {
                id: "a".into(),
                status: Status::Approved,
            },
            "payments",
            "ana",
        );
        assert!(n
            .bubble(&pending(draft("a"), true), "payments", "ana")
            .is_some());
    }

    #[test]
    fn reconnecting_waits_one_second_doubling_to_a_minute() {
        let waits: Vec<u64> = (0..9).map(|f| backoff(f).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}

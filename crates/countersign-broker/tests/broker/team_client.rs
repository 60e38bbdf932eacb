//! The shared team client (`countersign_broker::team_client`, used by `countersign team` and
//! the desktop app) against a real team server on SQLite: login by challenge with the roster
//! checked against the pinned leads, the session file, the live event stream, claims, and
//! decisions signed locally, one signature uploaded at a time.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::team_client::{
    self, body_to_sign, check_digest, Decision, LoginTarget, SavedSession, TeamClient,
    TeamClientError,
};
use countersign_core::api::{ErrorCode, Status};
use countersign_core::decision::{parse_body, Approver, Verdict};
use countersign_core::team::{SignOutcome, TeamEvent};
use countersign_core::ApproverKey;

use crate::fixture::seed_key;
use crate::team::{eng, eve, lea, world, TeamWorld};

const TWO_APPROVERS: &str = "serial = 1\n[thresholds]\ntwo_approvers_from = 1\n";

fn target(w: &TeamWorld) -> LoginTarget {
    LoginTarget {
        server: format!("{}/", w.base),
        lead_trust: w.dir.path().join("anchors.json"),
        ca_cert: None,
    }
}

async fn join(w: &TeamWorld, key: &ApproverKey) -> TeamClient {
    let done = team_client::login(&target(w), key, None).await.unwrap();
    TeamClient::new(done.saved).unwrap()
}

/// The next event about draft `id` that `wanted` accepts (claims, signatures and escalations
/// also come as `pending`; other drafts' events are skipped).
async fn next_about(
    events: &mut team_client::EventStream,
    id: &str,
    wanted: impl Fn(&TeamEvent) -> bool,
) -> TeamEvent {
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        let about = match &ev {
            TeamEvent::Pending { draft, .. } => draft.summary.id == id,
            TeamEvent::Decided { id: d, .. } => d == id,
            TeamEvent::Snapshot { .. } => false,
        };
        if about && wanted(&ev) {
            return ev;
        }
    }
}

#[tokio::test]
async fn an_engineer_and_a_lead_log_in_follow_the_queue_and_release_a_two_signature_envelope() {
    let w = world(Some(TWO_APPROVERS), 300).await;
    let done = team_client::login(&target(&w), &eng(), None).await.unwrap();
    assert_eq!(done.role, "approver");
    assert_eq!(
        done.saved.server, w.base,
        "the URL is kept without its trailing slash"
    );
    assert_eq!(done.saved.session.approver, "eng");
    assert_eq!(done.saved.roster_serial, 1);

    // The session survives a restart: saved 0600, read back the same.
    let data = tempfile::tempdir().unwrap();
    team_client::save_session(data.path(), &done.saved).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(team_client::session_path(data.path()))
            .unwrap()
            .permissions(),
    );
    assert_eq!(
        mode & 0o077,
        0,
        "the session holds a bearer token: {mode:o}"
    );
    let loaded: SavedSession = team_client::load_session(data.path()).unwrap();
    assert_eq!(loaded, done.saved);
    let engineer = TeamClient::new(loaded).unwrap();
    let lead = join(&w, &lea()).await;

    let mut events = engineer.events().await.unwrap();
    match events.next().await.unwrap().unwrap() {
        TeamEvent::Snapshot { drafts } => assert!(drafts.is_empty()),
        other => panic!("the stream starts with a snapshot, got {other:?}"),
    }
    let (id, digest) = w.submit("shell.exec");
    match next_about(&mut events, &id, |_| true).await {
        TeamEvent::Pending { draft, notify } => {
            assert_eq!(draft.summary.id, id);
            assert!(notify, "any approver may sign: the engineer is notified");
        }
        other => panic!("expected the new draft, got {other:?}"),
    }

    // The engineer reviews it (digest recomputed here) and claims it; the lead sees who.
    let shown = engineer.draft(&id).await.unwrap();
    assert_eq!(shown.detail.action_digest, digest);
    engineer.claim(&id).await.unwrap();
    let listed = lead.drafts().await.unwrap();
    assert_eq!(listed[0].claim.as_ref().unwrap().approver, "eng");

    // A digest other than the one reviewed is refused before anything is signed.
    let stale = Decision {
        verdict: Verdict::Approved,
        reason: None,
        shown_digest: Some("sha256:00".into()),
    };
    let err = engineer.decide(&eng(), &id, &stale).await.unwrap_err();
    assert!(matches!(err, TeamClientError::Refused(_)), "{err}");

    let approve = Decision {
        verdict: Verdict::Approved,
        reason: None,
        shown_digest: Some(digest.clone()),
    };
    let first = engineer.decide(&eng(), &id, &approve).await.unwrap();
    assert!(
        matches!(&first.outcome, SignOutcome::Awaiting { signers, .. } if signers == &["eng"]),
        "{:?}",
        first.outcome
    );
    assert_eq!(first.cosigned, None, "the engineer built the body");
    let again = engineer.decide(&eng(), &id, &approve).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict, "{again}");
    assert!(again.to_string().contains("already signed"), "{again}");

    // The lead co-signs the very body the engineer signed: released with both signatures.
    let second = lead.decide(&lea(), &id, &approve).await.unwrap();
    assert_eq!(second.cosigned.as_deref(), Some("eng"));
    match second.outcome {
        SignOutcome::Released { signers, envelope } => {
            assert_eq!(signers, ["eng", "lea"]);
            assert_eq!(envelope.signatures.len(), 2);
        }
        other => panic!("expected the release, got {other:?}"),
    }
    match next_about(&mut events, &id, |e| matches!(e, TeamEvent::Decided { .. })).await {
        TeamEvent::Decided {
            id: decided,
            status,
        } => {
            assert_eq!((decided.as_str(), status), (id.as_str(), Status::Approved));
        }
        other => panic!("expected the decision on the stream, got {other:?}"),
    }
    assert!(lead.drafts().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rejection_with_a_reason_is_signed_here_and_released_at_once() {
    let w = world(Some(TWO_APPROVERS), 300).await;
    let engineer = join(&w, &eng()).await;
    let (id, digest) = w.submit("shell.exec");
    let reject = Decision {
        verdict: Verdict::Rejected,
        reason: Some("not on a Friday".into()),
        shown_digest: Some(digest),
    };
    match engineer.decide(&eng(), &id, &reject).await.unwrap().outcome {
        SignOutcome::Rejected { envelope } => {
            let body = parse_body(&B64.decode(&envelope.payload).unwrap()).unwrap();
            assert_eq!(body.reason.as_deref(), Some("not on a Friday"));
            assert_eq!(body.approver.name, "eng");
        }
        other => panic!("expected the rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn login_refuses_an_unverified_roster_a_rollback_a_stranger_key_and_says_when_unreachable() {
    let w = world(None, 300).await;

    // Anchors that pin another lead: the roster does not verify.
    let other = w.dir.path().join("other-anchors.json");
    std::fs::write(
        &other,
        serde_json::to_vec(&eve().trusted_key("eve", "lead")).unwrap(),
    )
    .unwrap();
    let mut t = target(&w);
    t.lead_trust = other;
    let err = team_client::login(&t, &eng(), None).await.unwrap_err();
    assert!(matches!(err, TeamClientError::Roster { .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::Forbidden);

    // A serial seen before from this server is never gone back on.
    let seen = team_client::login(&target(&w), &eng(), None).await.unwrap();
    let mut later = seen.saved.clone();
    later.roster_serial = 5;
    let err = team_client::login(&target(&w), &eng(), Some(&later))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TeamClientError::Rollback {
                offered: 1,
                seen: 5
            }
        ),
        "{err}"
    );

    // A key the roster does not list is told how to get in, before any challenge.
    let err = team_client::login(&target(&w), &seed_key(99), None)
        .await
        .unwrap_err();
    assert!(matches!(err, TeamClientError::NotInRoster { .. }), "{err}");
    assert!(err.to_string().contains("export-public"), "{err}");

    // Nobody listening: unreachable, naming the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut t = target(&w);
    t.server = format!("http://127.0.0.1:{port}");
    let err = team_client::login(&t, &eng(), None).await.unwrap_err();
    assert!(matches!(err, TeamClientError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    let mut t = target(&w);
    t.server = "team.example.com".into();
    assert!(matches!(
        team_client::login(&t, &eng(), None).await.unwrap_err(),
        TeamClientError::Invalid(_)
    ));
}

#[tokio::test]
async fn a_session_the_server_no_longer_knows_asks_to_log_in_again() {
    let w = world(None, 300).await;
    let engineer = join(&w, &eng()).await;
    engineer.logout().await.unwrap();
    let err = engineer.drafts().await.unwrap_err();
    assert!(err.session_ended(), "{err}");
    assert_eq!(err.code(), ErrorCode::Unauthorized);
    assert!(err.to_string().contains("log in again"));
    assert!(engineer.events().await.unwrap_err().session_ended());
    let data = tempfile::tempdir().unwrap();
    assert!(team_client::load_session(data.path())
        .unwrap_err()
        .session_ended());
}

#[tokio::test]
async fn nothing_is_signed_for_an_action_that_is_not_its_digest_or_a_body_for_another_draft() {
    let w = world(Some(TWO_APPROVERS), 300).await;
    let engineer = join(&w, &eng()).await;
    let (a, digest_a) = w.submit("shell.exec");
    let (b, _) = w.submit("acl.change");
    let approve = Decision {
        verdict: Verdict::Approved,
        reason: None,
        shown_digest: Some(digest_a),
    };
    engineer.decide(&eng(), &a, &approve).await.unwrap();

    // A server showing one action under another's digest.
    let mut tampered = w.team.draft(&b).unwrap();
    tampered.detail.action.summary.push_str(" (and more)");
    assert!(matches!(
        check_digest(&tampered),
        Err(TeamClientError::Refused(_))
    ));

    // A server handing draft A's awaiting body out as draft B's.
    let mut swapped = w.team.draft(&b).unwrap();
    swapped.awaiting = w.team.draft(&a).unwrap().awaiting;
    assert!(swapped.awaiting.is_some());
    let me = Approver {
        keyid: lea().key_id(),
        name: "lea".into(),
    };
    let err = body_to_sign(&swapped, &b, me, &approve, countersign_broker::now()).unwrap_err();
    assert!(matches!(err, TeamClientError::Refused(_)), "{err}");
}

#[tokio::test]
async fn nothing_is_signed_under_a_policy_the_pinned_leads_did_not_sign() {
    let w = world(Some(TWO_APPROVERS), 300).await;
    let client = join(&w, &eng()).await;
    let (id, _) = w.submit("acl.change");
    // The approver's pinned lead trust now names another lead (as if the server's policy had
    // been signed by a key the approver never pinned).
    std::fs::write(
        w.dir.path().join("anchors.json"),
        serde_json::to_vec(&seed_key(77).trusted_key("mallory", "lead")).unwrap(),
    )
    .unwrap();
    let err = client
        .decide(
            &eng(),
            &id,
            &Decision {
                verdict: Verdict::Approved,
                reason: None,
                shown_digest: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TeamClientError::Refused(_)), "{err}");
    assert!(err.to_string().contains("does not verify"), "{err}");
    let d = w.team.draft(&id).unwrap();
    assert!(d.awaiting.is_none(), "nothing was uploaded");
}

//! Team mode on one broker (SQLite; the two-replica PostgreSQL flow is the CLI's team test):
//! the roster's chain of trust and rollback, challenge login and its replays, what an uploaded
//! signature must be, quorum counted against the roster, claims, routing, the event stream,
//! and TLS.

use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_broker::http::ApiConfig;
use countersign_broker::{Broker, BrokerConfig, BrokerError, Member, Signer, Team, TeamFiles};
use countersign_core::decision::{
    verify_decision_quorum, Approver, Expectations, Quorum, RiskSummary, Verdict,
    DECISION_PAYLOAD_TYPE,
};
use countersign_core::digest::canonical_json;
use countersign_core::dsse::{pae, Signature};
use countersign_core::policy::{self, LoadedPolicy};
use countersign_core::team::{
    sign_roster, LoginRequest, Roster, SignOutcome, SignatureUpload, TeamEvent, ROSTER_TYPE,
};
use countersign_core::{ApproverKey, DecisionBody, TrustedKey, TrustedKeys};
use countersign_store::Store;

use crate::fixture::{draft_json, seed_key};

pub(crate) fn lea() -> ApproverKey {
    seed_key(41)
}
pub(crate) fn eng() -> ApproverKey {
    seed_key(42)
}
pub(crate) fn eve() -> ApproverKey {
    seed_key(43)
}

fn members() -> Vec<TrustedKey> {
    vec![
        lea().trusted_key("lea", "lead"),
        eng().trusted_key("eng", "approver"),
        eve().trusted_key("eve", "approver"),
    ]
}

fn roster_bytes(serial: u64, keys: Vec<TrustedKey>) -> Vec<u8> {
    serde_json::to_vec_pretty(&Roster {
        v: 1,
        kind: ROSTER_TYPE.into(),
        team: "payments".into(),
        serial,
        keys,
    })
    .unwrap()
}

pub(crate) struct TeamWorld {
    pub(crate) broker: Broker,
    pub(crate) team: Arc<Team>,
    pub(crate) dir: tempfile::TempDir,
    token: String,
    pub(crate) base: String,
}

/// Writes roster `serial` (signed by `signer`) and the anchors (lea as lead) into `dir`.
fn write_roster(dir: &std::path::Path, serial: u64, keys: Vec<TrustedKey>, signer: &ApproverKey) {
    let bytes = roster_bytes(serial, keys);
    std::fs::write(dir.join("roster.json"), &bytes).unwrap();
    std::fs::write(
        dir.join("roster.json.sig"),
        serde_json::to_vec(&sign_roster(&bytes, signer)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("anchors.json"),
        serde_json::to_vec(&lea().trusted_key("lea", "lead")).unwrap(),
    )
    .unwrap();
}

fn files(dir: &std::path::Path, escalate_after_s: i64) -> TeamFiles {
    TeamFiles {
        roster: dir.join("roster.json"),
        signature: None,
        anchors: dir.join("anchors.json"),
        escalate_after_s,
    }
}

/// A broker with `policy_text` (signed by lea) on a fresh SQLite file, team mode on, the team
/// API served over HTTP.
pub(crate) async fn world(policy_text: Option<&str>, escalate_after_s: i64) -> TeamWorld {
    let dir = tempfile::tempdir().unwrap();
    write_roster(dir.path(), 1, members(), &lea());
    let policy = policy_text.map(|text| {
        let env = policy::sign(text.as_bytes(), &lea());
        let anchors = TrustedKeys::from_keys(vec![lea().trusted_key("lea", "lead")]).unwrap();
        Arc::new(LoadedPolicy::verify(text.as_bytes(), &env, &anchors).unwrap())
    });
    let store = Arc::new(Store::open(&dir.path().join("db.sqlite3")).unwrap());
    let broker = Broker::headless(
        store,
        Signer {
            key: seed_key(7),
            name: "server".into(),
        },
        BrokerConfig {
            policy,
            ..BrokerConfig::default()
        },
    );
    let team = Team::start(broker.clone(), &files(dir.path(), escalate_after_s)).unwrap();
    team.spawn_events();
    let token = broker.add_agent("deploy-bot").unwrap().token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(countersign_broker::http::serve_with(
        listener,
        broker.clone(),
        ApiConfig {
            team: Some(team.clone()),
            ..ApiConfig::default()
        },
        std::future::pending(),
    ));
    TeamWorld {
        broker,
        team,
        dir,
        token,
        base,
    }
}

impl TeamWorld {
    pub(crate) fn submit(&self, kind: &str) -> (String, String) {
        let agent = self.broker.authenticate(&self.token).unwrap().unwrap();
        let s = self
            .broker
            .submit(&agent, draft_json(kind).to_string().as_bytes())
            .unwrap();
        (s.id, s.action_digest)
    }

    fn login(&self, key: &ApproverKey) -> (Member, String) {
        let challenge = self.team.challenge(&key.key_id()).unwrap();
        let session = self
            .team
            .login(&LoginRequest {
                signature: challenge.sign(key),
                challenge,
            })
            .unwrap();
        (
            self.team.authenticate(&session.token).unwrap(),
            session.token,
        )
    }

    /// The decision body a member's app builds for draft `id`.
    fn body(&self, id: &str, key: &ApproverKey, name: &str, verdict: Verdict) -> DecisionBody {
        let d = self.team.draft(id).unwrap();
        let iat = countersign_broker::now();
        DecisionBody {
            v: 1,
            verdict,
            reason: (verdict == Verdict::Rejected).then(|| "not this week".to_owned()),
            action_id: id.into(),
            agent: d.draft.summary.agent.clone(),
            action: d.detail.action.clone(),
            action_digest: d.detail.action_digest.clone(),
            approver: Approver {
                keyid: key.key_id(),
                name: name.into(),
            },
            risk: RiskSummary {
                score: d.detail.risk.score,
                level: d.detail.risk.level,
            },
            policy_sha256: d.policy_sha256,
            iat,
            exp: iat + 300,
            jti: uuid_like(),
        }
    }
}

fn uuid_like() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn upload(bytes: &[u8], key: &ApproverKey) -> SignatureUpload {
    SignatureUpload {
        payload: B64.encode(bytes),
        signature: Signature {
            keyid: key.key_id(),
            sig: B64.encode(key.sign(&pae(DECISION_PAYLOAD_TYPE, bytes))),
        },
    }
}

fn signed(body: &DecisionBody, key: &ApproverKey) -> SignatureUpload {
    upload(&canonical_json(body).unwrap(), key)
}

#[tokio::test]
async fn a_login_needs_the_challenged_roster_key_and_each_challenge_answers_once() {
    let w = world(None, 300).await;
    // Not in the roster: no challenge at all.
    let outsider = seed_key(99);
    assert!(matches!(
        w.team.challenge(&outsider.key_id()),
        Err(BrokerError::Unauthorized(_))
    ));
    // Eve answers a challenge issued to eng: refused.
    let challenge = w.team.challenge(&eng().key_id()).unwrap();
    let forged = LoginRequest {
        signature: challenge.sign(&eve()),
        challenge: challenge.clone(),
    };
    assert!(matches!(
        w.team.login(&forged),
        Err(BrokerError::Unauthorized(_))
    ));
    // An answer over an altered challenge (another team) is refused.
    let mut other_team = challenge.clone();
    other_team.team = "platform".into();
    let altered = LoginRequest {
        signature: other_team.sign(&eng()),
        challenge: other_team,
    };
    let err = w.team.login(&altered).unwrap_err().to_string();
    assert!(err.contains("team `platform`"), "{err}");
    // The genuine answer logs in once; replaying it is refused (the nonce is spent).
    let genuine = LoginRequest {
        signature: challenge.sign(&eng()),
        challenge,
    };
    let session = w.team.login(&genuine).unwrap();
    assert_eq!(
        (session.approver.as_str(), session.role.as_str()),
        ("eng", "approver")
    );
    let replay = w.team.login(&genuine).unwrap_err().to_string();
    assert!(replay.contains("already used"), "{replay}");
    // The session authenticates; a made-up token does not; logout ends it.
    assert_eq!(w.team.authenticate(&session.token).unwrap().name, "eng");
    assert!(w.team.authenticate("cs_madeup").is_err());
    w.team.logout(&session.token).unwrap();
    assert!(w.team.authenticate(&session.token).is_err());
    let audit: Vec<String> = w
        .broker
        .store()
        .audit_rows()
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(audit.contains(&"team.roster_loaded".to_owned()));
    assert_eq!(audit.iter().filter(|e| *e == "team.login").count(), 1);
    assert!(audit.contains(&"team.logout".to_owned()));
}

#[tokio::test]
async fn a_revocation_in_a_newer_roster_ends_the_session_and_an_older_roster_never_comes_back() {
    let w = world(None, 300).await;
    let (_, token) = w.login(&eve());
    // Lea signs serial 2 with eve revoked; a restart with it puts it in force.
    let mut keys = members();
    keys[2].revoke(countersign_broker::now(), "laptop lost");
    write_roster(w.dir.path(), 2, keys, &lea());
    let again = Team::start(w.broker.clone(), &files(w.dir.path(), 300)).unwrap();
    assert_eq!(again.roster().unwrap().roster.serial, 2);
    // The first Team (another replica) picks serial 2 up from the store: eve is out.
    let err = w.team.authenticate(&token).unwrap_err().to_string();
    assert!(err.contains("no longer a live key"), "{err}");
    assert!(w.team.challenge(&eve().key_id()).is_err());
    // Serial 1 offered again: refused; the team keeps serial 2.
    write_roster(w.dir.path(), 1, members(), &lea());
    let kept = Team::start(w.broker.clone(), &files(w.dir.path(), 300)).unwrap();
    assert_eq!(kept.roster().unwrap().roster.serial, 2);
    // A roster signed by a member who is not an anchor: refused.
    write_roster(w.dir.path(), 3, members(), &eng());
    let err = Team::start(w.broker.clone(), &files(w.dir.path(), 300)).unwrap_err();
    assert!(err.to_string().contains("roster signature"), "{err}");
    assert_eq!(w.team.roster().unwrap().roster.serial, 2);
}

#[tokio::test]
async fn an_uploaded_signature_must_be_the_sessions_key_over_a_body_for_exactly_this_draft() {
    let w = world(None, 300).await;
    let (id, _) = w.submit("acl.change");
    let (me, _) = w.login(&eng());
    let good = w.body(&id, &eng(), "eng", Verdict::Approved);
    let refused = |upload: SignatureUpload, why: &str| {
        let err = w.team.sign(&me, &id, &upload).unwrap_err();
        assert!(matches!(err, BrokerError::BadRequest(_)), "{why}: {err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    };
    // Eve's signature uploaded on eng's session.
    refused(signed(&good, &eve()), "does not verify");
    // An edited action (the server is never asked to sign what was not shown).
    let mut edited = good.clone();
    edited.action.summary = "something else".into();
    refused(signed(&edited, &eng()), "digest mismatch");
    edited.action_digest = countersign_core::digest::action_digest(&edited.action).to_string();
    refused(signed(&edited, &eng()), "not the stored draft");
    // Naming another approver, another risk, another policy, a stale or long-lived body.
    let mut other = good.clone();
    other.approver.name = "lea".into();
    refused(signed(&other, &eng()), "names approver");
    let mut risk = good.clone();
    risk.risk.score = 1;
    refused(signed(&risk, &eng()), "risk");
    let mut pol = good.clone();
    pol.policy_sha256 = Some("sha256:00".into());
    refused(signed(&pol, &eng()), "policy_sha256");
    let mut stale = good.clone();
    stale.iat -= 3600;
    stale.exp -= 3600;
    refused(signed(&stale, &eng()), "iat");
    let mut long = good.clone();
    long.exp = long.iat + 3600;
    refused(signed(&long, &eng()), "exp - iat");
    // Another draft's body.
    let (other_id, _) = w.submit("shell.exec");
    let foreign = w.body(&other_id, &eng(), "eng", Verdict::Approved);
    refused(signed(&foreign, &eng()), "for draft");
    // Not canonical JSON (pretty-printed): two byte strings for one body are refused.
    let pretty = serde_json::to_vec_pretty(&good).unwrap();
    refused(upload(&pretty, &eng()), "canonical");
    // A rejection without a reason.
    let mut no_reason = w.body(&id, &eng(), "eng", Verdict::Rejected);
    no_reason.reason = Some("  ".into());
    refused(signed(&no_reason, &eng()), "reason");
    // Nothing changed: still pending, nothing awaits signatures.
    let d = w.team.draft(&id).unwrap();
    assert_eq!(
        d.draft.summary.status,
        countersign_core::api::Status::Pending
    );
    assert!(d.awaiting.is_none());
    // The genuine body releases at once (no policy: one approver).
    let out = w.team.sign(&me, &id, &signed(&good, &eng())).unwrap();
    let SignOutcome::Released { envelope, signers } = out else {
        panic!("one approver suffices without a policy: {out:?}");
    };
    assert_eq!(signers, vec!["eng".to_owned()]);
    let roster = TrustedKeys::from_keys(members()).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: "deploy-bot",
        now: countersign_broker::now(),
    };
    verify_decision_quorum(&envelope, &roster, &expect, Quorum::default()).unwrap();
}

#[tokio::test]
async fn a_lead_band_waits_for_a_lead_counts_each_key_once_and_a_rejection_ends_it() {
    let w = world(
        Some("serial = 1\n[thresholds]\nlead_required_from = 1\n"),
        300,
    )
    .await;
    let (id, _) = w.submit("acl.change");
    let (eng_m, _) = w.login(&eng());
    let (eve_m, _) = w.login(&eve());
    let (lea_m, _) = w.login(&lea());
    let body = w.body(&id, &eng(), "eng", Verdict::Approved);
    let bytes = canonical_json(&body).unwrap();
    let out = w.team.sign(&eng_m, &id, &upload(&bytes, &eng())).unwrap();
    let SignOutcome::Awaiting { missing, .. } = out else {
        panic!("an engineer alone cannot approve a lead band: {out:?}");
    };
    assert!(missing.contains("lead"), "{missing}");
    // Eng again: counts once. Eve proposing a body of her own: another body awaits.
    let again = w
        .team
        .sign(&eng_m, &id, &upload(&bytes, &eng()))
        .unwrap_err();
    assert!(again.to_string().contains("already signed"), "{again}");
    let own = signed(&w.body(&id, &eve(), "eve", Verdict::Approved), &eve());
    let err = w.team.sign(&eve_m, &id, &own).unwrap_err();
    assert!(matches!(err, BrokerError::Conflict(_)), "{err}");
    // Eve co-signs the awaiting body: two approvers, still no lead.
    let out = w.team.sign(&eve_m, &id, &upload(&bytes, &eve())).unwrap();
    assert!(matches!(out, SignOutcome::Awaiting { .. }), "{out:?}");
    assert_eq!(w.team.draft(&id).unwrap().draft.signers, ["eng", "eve"]);
    // Lea co-signs: released with all three signatures; a gate demanding a lead accepts it.
    let out = w.team.sign(&lea_m, &id, &upload(&bytes, &lea())).unwrap();
    let SignOutcome::Released { envelope, signers } = out else {
        panic!("a lead completes the band: {out:?}");
    };
    assert_eq!(signers, ["eng", "eve", "lea"]);
    let roster = TrustedKeys::from_keys(members()).unwrap();
    let expect = Expectations {
        action_id: &id,
        agent: "deploy-bot",
        now: countersign_broker::now(),
    };
    let lead = Quorum {
        approvals: 1,
        lead: true,
    };
    verify_decision_quorum(&envelope, &roster, &expect, lead).unwrap();
    assert!(w.team.sign(&lea_m, &id, &upload(&bytes, &lea())).is_err());

    // A second draft: eng approves, eve rejects: one signed "no" ends it, the approval
    // awaiting a lead included.
    let (id2, _) = w.submit("acl.change");
    let b2 = canonical_json(&w.body(&id2, &eng(), "eng", Verdict::Approved)).unwrap();
    w.team.sign(&eng_m, &id2, &upload(&b2, &eng())).unwrap();
    let no = signed(&w.body(&id2, &eve(), "eve", Verdict::Rejected), &eve());
    let out = w.team.sign(&eve_m, &id2, &no).unwrap();
    assert!(matches!(out, SignOutcome::Rejected { .. }), "{out:?}");
    let decided = w.broker.store().decision(&id2).unwrap().unwrap();
    assert_eq!(decided.verdict, Verdict::Rejected);
    assert!(w.team.draft(&id2).unwrap().awaiting.is_none());
    // The lead's late co-signature finds nothing to complete.
    assert!(w.team.sign(&lea_m, &id2, &upload(&b2, &lea())).is_err());
}

#[tokio::test]
async fn a_claim_shows_in_review_to_the_others_until_released() {
    let w = world(None, 300).await;
    let (id, _) = w.submit("shell.exec");
    let (eng_m, _) = w.login(&eng());
    let (eve_m, _) = w.login(&eve());
    let c = w.team.claim(&eng_m, &id).unwrap();
    assert_eq!(c.approver, "eng");
    let err = w.team.claim(&eve_m, &id).unwrap_err().to_string();
    assert!(err.contains("in review by eng"), "{err}");
    assert_eq!(
        w.team.drafts().unwrap()[0].claim.as_ref().unwrap().approver,
        "eng"
    );
    // Eng renews their own claim; then releases it and eve may claim.
    w.team.claim(&eng_m, &id).unwrap();
    w.team.release(&eng_m, &id).unwrap();
    assert_eq!(w.team.claim(&eve_m, &id).unwrap().approver, "eve");
}

/// Reads SSE events (the JSON of each `data:` line) from a response until `n` arrived.
async fn read_events(resp: &mut reqwest::Response, n: usize) -> Vec<TeamEvent> {
    let mut out = Vec::new();
    let mut buf = String::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            for line in block.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    out.push(serde_json::from_str(data.trim_start()).unwrap());
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_event_stream_notifies_leads_first_and_everyone_once_a_lead_draft_waits_too_long() {
    let w = world(
        Some("serial = 1\n[thresholds]\nlead_required_from = 1\n"),
        1,
    )
    .await;
    let http = reqwest::Client::new();
    // No session: 401 with the API's error shape.
    let r = http
        .get(format!("{}/v1/team/drafts", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    let (_, eng_token) = w.login(&eng());
    let (_, lea_token) = w.login(&lea());
    let stream = |token: String| {
        let http = http.clone();
        let url = format!("{}/v1/team/events", w.base);
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let mut eng_events = stream(eng_token).await;
    let mut lea_events = stream(lea_token).await;
    assert_eq!(eng_events.status(), 200);
    assert!(matches!(
        read_events(&mut eng_events, 1).await[0],
        TeamEvent::Snapshot { .. }
    ));
    assert!(matches!(
        read_events(&mut lea_events, 1).await[0],
        TeamEvent::Snapshot { .. }
    ));
    let (id, _) = w.submit("acl.change");
    let notify_of = |ev: &TeamEvent| match ev {
        TeamEvent::Pending { draft, notify } if draft.summary.id == id => {
            Some((*notify, draft.escalated))
        }
        _ => None,
    };
    // The lead is notified at once; the engineer sees it without a notification…
    let lea_first = read_events(&mut lea_events, 1).await;
    assert_eq!(notify_of(&lea_first[0]), Some((true, false)));
    let eng_first = read_events(&mut eng_events, 1).await;
    assert_eq!(notify_of(&eng_first[0]), Some((false, false)));
    // …until it waited unclaimed past the escalation time (1 s): then everyone is.
    let eng_next = read_events(&mut eng_events, 1).await;
    assert_eq!(notify_of(&eng_next[0]), Some((true, true)));
}

#[tokio::test]
async fn the_api_is_served_over_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let tls = countersign_broker::tls::server_config(
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
    )
    .unwrap();
    // A key that is not the certificate's: refused with the reason.
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("other.pem"), other.serialize_pem()).unwrap();
    assert!(countersign_broker::tls::server_config(
        &dir.path().join("cert.pem"),
        &dir.path().join("other.pem")
    )
    .is_err());
    let missing = countersign_broker::tls::server_config(
        &dir.path().join("nope.pem"),
        &dir.path().join("key.pem"),
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("nope.pem"), "{missing}");
    let store = Arc::new(Store::open(&dir.path().join("db.sqlite3")).unwrap());
    let broker = Broker::headless(
        store,
        Signer {
            key: seed_key(7),
            name: "server".into(),
        },
        BrokerConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(countersign_broker::tls::serve_tls(
        listener,
        broker,
        ApiConfig::default(),
        tls,
        std::future::pending(),
    ));
    // A client that stalls its handshake holds nobody up.
    let _stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let ca = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{port}/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A client that does not trust the certificate fails the handshake.
    let plain = reqwest::Client::new()
        .get(format!("https://localhost:{port}/v1/health"))
        .send()
        .await;
    assert!(plain.is_err());
    // Plain HTTP to the TLS port gets no answer.
    let http = reqwest::Client::new()
        .get(format!("http://localhost:{port}/v1/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(http.is_err() || http.unwrap().status() != 200);
}

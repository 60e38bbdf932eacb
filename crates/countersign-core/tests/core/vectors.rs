//! Shared decision test vectors: `tests/vectors/decisions.json` at the workspace root.
//!
//! The file is generated here from fixed seeds (Ed25519 signing is deterministic, RFC 8032
//! §5.1.6), so it is byte-for-byte reproducible. Every vector is run through the Rust verifier
//! below, and `clients/python` runs the very same file through its own verifier, so the two
//! implementations must agree on every outcome.
//!
//! Regenerate after an intended change of the decision format:
//! `COUNTERSIGN_UPDATE_VECTORS=1 cargo test -p countersign-core --test core vectors`.
//!
//! Bodies are built as JSON values, not as `DecisionBody` literals, so that adding an optional
//! field to the body does not change the committed vectors; a new *required* field makes every
//! "ok" vector fail with a `body` error, and must be added to `base_body` below.
//!
//! File shape: `{"payload_type", "defaults": {"action_id", "agent", "now"}, "trust": {name:
//! trust file}, "vectors": [{"name", "description", "trust", "envelope" (the exact bytes, as a
//! string), "action_id"?, "agent"?, "now"?, "outcome", "signers"?}]}`. `outcome` is `ok` or the
//! class of refusal: `trust` (the trust file is refused), `envelope`, `payload_type`,
//! `payload_encoding`, `signature`, `body`, `digest`, `audience`, `expired`, `rejected`,
//! `quorum`. A vector with `"quorum": {"approvals", "lead"}` is verified with that quorum.

use std::path::PathBuf;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use countersign_core::decision::{
    verify_decision_quorum, Expectations, GateError, Quorum, DECISION_PAYLOAD_TYPE,
};
use countersign_core::digest::{canonical_json, Digest};
use countersign_core::dsse::{Envelope, VerifyError};
use countersign_core::json::parse_strict;
use countersign_core::{Action, ApproverKey, TrustedKeys};
use serde_json::{json, Value};
use zeroize::Zeroizing;

const ACTION_ID: &str = "0b6f4a1e-7c52-4d0e-9a51-2f9d3c8e1a77";
const AGENT: &str = "forum-bot";
const IAT: i64 = 1_790_000_000;
const EXP: i64 = IAT + 300;
const NOW: i64 = IAT + 10;
/// ℓ, the order of the Ed25519 base point (RFC 8032 §5.1), little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
/// A point of order 8 (its canonical encoding), as listed in libsodium's small-order blocklist.
const ORDER_8_POINT: [u8; 32] = [
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
];

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/decisions.json")
}

fn ana() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xa1; 32]))
}

fn mallory() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0x66; 32]))
}

fn forum_action() -> Value {
    json!({"kind": "message.post", "target": "forum://eng/thread/42",
        "summary": "Answer the question about read access",
        "payload": {"channel": "eng", "body": "Please ask data-eng for access; do not grant all-employees."}})
}

fn http_action() -> Value {
    json!({"kind": "http.request", "target": "https://api.example.com/v1/tickets",
        "summary": "Close ticket 7",
        "payload": {"method": "POST", "url": "https://api.example.com/v1/tickets/7/close",
            "headers": {"content-type": "application/json"}, "body": "{\"note\":\"done\"}"}})
}

fn digest_of(action: &Value) -> String {
    let action: Action = serde_json::from_value(action.clone()).expect("a valid action");
    countersign_core::digest::action_digest(&action).to_string()
}

/// The body of a fresh approval of `action`, with its digest.
fn base_body(action: Value) -> Value {
    json!({"v": 1, "verdict": "approved", "reason": null, "action_id": ACTION_ID, "agent": AGENT,
        "action_digest": digest_of(&action), "action": action,
        "approver": {"keyid": ana().key_id(), "name": "ana"},
        "risk": {"score": 35, "level": "medium"}, "iat": IAT, "exp": EXP,
        "jti": "5d1c9e0b-3f7a-4c2e-8b6d-1a2b3c4d5e6f"})
}

fn canonical(v: &Value) -> Vec<u8> {
    canonical_json(v).expect("JSON values always canonicalize")
}

fn sign(bytes: &[u8]) -> Envelope {
    Envelope::sign(DECISION_PAYLOAD_TYPE, bytes, &ana())
}

fn text(env: &Envelope) -> String {
    serde_json::to_string(env).expect("an envelope serializes")
}

fn sig_bytes(env: &Envelope) -> Vec<u8> {
    B64.decode(&env.signatures[0].sig)
        .expect("own signature is base64")
}

fn with_sig(env: &Envelope, sig: String) -> Envelope {
    let mut e = env.clone();
    e.signatures[0].sig = sig;
    e
}

fn with_payload(env: &Envelope, bytes: &[u8]) -> Envelope {
    Envelope {
        payload: B64.encode(bytes),
        ..env.clone()
    }
}

/// Replaces the first `from` in the signed bytes with `to`, keeping the signature.
fn swap(env: &Envelope, from: &str, to: &str) -> Envelope {
    let body = String::from_utf8(B64.decode(&env.payload).expect("base64")).expect("utf-8");
    assert!(body.contains(from), "`{from}` must occur in the body");
    assert_eq!(from.len(), to.len(), "a swap keeps the length");
    with_payload(env, body.replacen(from, to, 1).as_bytes())
}

/// JSON text of `v` with every object's keys in reverse order and spaces: valid, not canonical.
fn reordered(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{} : {}", Value::String(k.clone()), reordered(v)))
                .collect();
            format!("{{ {} }}", items.join(" , "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(reordered).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// Canonical text of `body` with `insert` placed right after the opening brace.
fn with_leading_member(body: &Value, insert: &str) -> Vec<u8> {
    let text = String::from_utf8(canonical(body)).expect("utf-8");
    format!("{{{insert},{}", &text[1..]).into_bytes()
}

fn trust_of(keys: &[(&[u8; 32], &str)]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(public, name)| {
            json!({"keyid": Digest::of_bytes(&public[..]).to_string(), "alg": "ed25519",
                "public_key": B64.encode(public), "approver": name, "role": "approver"})
        })
        .collect();
    json!({ "keys": keys })
}

struct Builder {
    vectors: Vec<Value>,
}

impl Builder {
    fn add(
        &mut self,
        name: &str,
        description: &str,
        envelope: String,
        outcome: &str,
    ) -> &mut Value {
        self.vectors.push(
            json!({"name": name, "description": description, "trust": "pinned",
            "envelope": envelope, "outcome": outcome}),
        );
        self.vectors.last_mut().expect("just pushed")
    }

    fn ok(&mut self, name: &str, description: &str, env: &Envelope) -> &mut Value {
        let v = self.add(name, description, text(env), "ok");
        v["signers"] = json!([ana().key_id()]);
        v
    }
}

/// Builds the whole vector file.
fn generate() -> Value {
    let ana_public = *ana().verifying_key().as_bytes();
    let mallory_public = *mallory().verifying_key().as_bytes();
    let body = base_body(forum_action());
    let valid = sign(&canonical(&body));
    let mut b = Builder {
        vectors: Vec::new(),
    };

    // Genuine decisions.
    b.ok(
        "valid_approval",
        "a fresh approval signed by the pinned key",
        &valid,
    );
    b.ok(
        "reordered_body_keys_still_verify",
        "the signature covers the payload bytes, not a canonical form: reordered keys and spaces verify",
        &sign(reordered(&body).as_bytes()),
    );
    let sig = &valid.signatures[0];
    b.add(
        "reordered_envelope_keys_still_verify",
        "envelope members in another order with whitespace",
        format!(
            "{{\n \"signatures\": [{{\"sig\": \"{}\", \"keyid\": \"{}\"}}],\n \"payloadType\": \"{}\",\n \"payload\": \"{}\"\n}}",
            sig.sig, sig.keyid, valid.payload_type, valid.payload
        ),
        "ok",
    )["signers"] = json!([ana().key_id()]);
    let mut two = valid.clone();
    two.signatures.insert(
        0,
        sign_with(&mallory(), &canonical(&body)).signatures[0].clone(),
    );
    b.ok(
        "unpinned_cosignature_is_ignored",
        "one signature from an unpinned key and one from the pinned key: only the pinned one counts",
        &two,
    );
    let mut twice = valid.clone();
    twice.signatures.push(valid.signatures[0].clone());
    b.ok(
        "same_signature_twice_counts_once",
        "a repeated signature counts once towards the signers",
        &twice,
    );
    b.ok(
        "skew_boundary_60s_after_expiry_verifies",
        "now = exp + 60: within the tolerated clock skew",
        &valid,
    )["now"] = json!(EXP + 60);
    b.ok(
        "skew_boundary_issued_60s_in_the_future_verifies",
        "now = iat - 60: within the tolerated clock skew",
        &valid,
    )["now"] = json!(IAT - 60);
    let tool = json!({"kind": "tool.call", "target": "mcp://warehouse", "summary": "Query with numbers and text",
        "payload": {"tool": "query", "arguments": {"ratio": 0.1, "one": 1.0, "neg_zero": -0.0,
            "tiny": 1e-7, "max_exact": 9_007_199_254_740_992_u64, "big": 1e15, "small": 4.5e-5, "min": -9_007_199_254_740_992_i64,
            "text": "é ✓ 😀 \u{2028} \"quoted\" \\ \n\t\u{1}",
            "z": 1, "é": 2, "😀": 3, "\u{fffd}": 4, "\u{80}": 5}}});
    b.ok(
        "canonical_digest_of_numbers_and_unicode",
        "RFC 8785: ES6 number forms, 2^53 exactly, escapes, UTF-16 key order inside the action",
        &sign(&canonical(&base_body(tool))),
    );
    let mut rejected = body.clone();
    rejected["verdict"] = json!("rejected");
    rejected["reason"] = json!("do not advise a broad grant");
    b.add(
        "signed_rejection_is_a_rejection",
        "a genuine rejection never executes",
        text(&sign(&canonical(&rejected))),
        "rejected",
    );

    // Signatures.
    b.add(
        "forged_signature_is_refused",
        "64 bytes that are not a signature",
        text(&with_sig(&valid, B64.encode([0x42u8; 64]))),
        "signature",
    );
    b.add(
        "truncated_signature_is_refused",
        "the last byte of the signature is cut",
        text(&with_sig(&valid, B64.encode(&sig_bytes(&valid)[..63]))),
        "signature",
    );
    let mut flipped = sig_bytes(&valid);
    flipped[17] ^= 0x04;
    b.add(
        "bit_flipped_signature_is_refused",
        "one bit of R flipped",
        text(&with_sig(&valid, B64.encode(&flipped))),
        "signature",
    );
    let mut flipped_s = sig_bytes(&valid);
    flipped_s[40] ^= 0x01;
    b.add(
        "bit_flipped_s_is_refused",
        "one bit of S flipped",
        text(&with_sig(&valid, B64.encode(&flipped_s))),
        "signature",
    );
    b.add(
        "signature_not_base64_is_refused",
        "the sig field is not base64",
        text(&with_sig(&valid, "not base64!".into())),
        "signature",
    );
    let canonical_sig = valid.signatures[0].sig.clone();
    b.add(
        "signature_base64_with_nonzero_trailing_bits_is_refused",
        "non-canonical base64 (RFC 4648 §3.5) of the right bytes: decoders must be strict",
        text(&with_sig(&valid, non_canonical_b64(&canonical_sig))),
        "signature",
    );
    let mut none = valid.clone();
    none.signatures.clear();
    b.add(
        "no_signatures_is_refused",
        "an envelope without signatures",
        text(&none),
        "signature",
    );
    let mut unpinned = sign_with(&mallory(), &canonical(&body));
    unpinned.signatures[0].keyid = ana().key_id();
    b.add(
        "unpinned_key_claiming_a_pinned_keyid_is_refused",
        "valid signature by an unpinned key; the keyid hint names the pinned key",
        text(&unpinned),
        "signature",
    );
    let mut malleated = sig_bytes(&valid);
    add_ell(&mut malleated[32..]);
    b.add(
        "non_canonical_s_is_refused",
        "S + ℓ: the same signature, malleated; verify_strict refuses S ≥ ℓ",
        text(&with_sig(&valid, B64.encode(&malleated))),
        "signature",
    );

    // Trust files.
    b.add(
        "small_order_key_in_trust_file_is_refused",
        "a pinned key of order 8 would verify forged signatures; the trust file is refused",
        text(&valid),
        "trust",
    )["trust"] = json!("small_order");
    let identity = {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    };
    b.add(
        "identity_key_in_trust_file_is_refused",
        "the neutral point as a pinned key verifies anything (s·B = R); the trust file is refused",
        text(&valid),
        "trust",
    )["trust"] = json!("identity");

    // Payload type and encoding.
    b.add(
        "wrong_payload_type_is_refused",
        "payloadType changed after signing",
        text(&Envelope {
            payload_type: "application/json".into(),
            ..valid.clone()
        }),
        "payload_type",
    );
    b.add(
        "payload_signed_as_another_type_is_refused",
        "a genuine signature over the same body as application/json is not a decision",
        text(&Envelope::sign(
            "application/json",
            &canonical(&body),
            &ana(),
        )),
        "payload_type",
    );
    b.add(
        "payload_not_base64_is_refused",
        "the payload field is not base64",
        text(&Envelope {
            payload: "%%%".into(),
            ..valid.clone()
        }),
        "payload_encoding",
    );
    let mut padded = canonical(&body);
    while padded.len() % 3 != 1 {
        padded.push(b' ');
    }
    let padded_env = sign(&padded);
    b.add(
        "payload_base64_with_nonzero_trailing_bits_is_refused",
        "non-canonical base64 of the signed bytes (trailing whitespace makes padding)",
        text(&Envelope {
            payload: non_canonical_b64(&padded_env.payload),
            ..padded_env.clone()
        }),
        "payload_encoding",
    );

    // Payload swaps after approval.
    b.add(
        "payload_swap_of_one_byte_in_text_is_refused",
        "one byte of the post's body changed after signing",
        text(&swap(&valid, "do not grant", "do now grant")),
        "signature",
    );
    b.add(
        "payload_swap_of_one_byte_in_target_is_refused",
        "one byte of the target changed after signing",
        text(&swap(&valid, "thread/42", "thread/43")),
        "signature",
    );
    let http = sign(&canonical(&base_body(http_action())));
    b.ok(
        "valid_http_request_approval",
        "the HTTP request decision the URL swap starts from",
        &http,
    );
    b.add(
        "payload_swap_of_one_byte_in_url_is_refused",
        "one byte of the request URL changed after signing",
        text(&swap(&http, "tickets/7/close", "tickets/8/close")),
        "signature",
    );
    b.add(
        "payload_of_another_decision_is_refused",
        "the payload of one genuine decision under the signature of another",
        text(&Envelope {
            payload: http.payload.clone(),
            ..valid.clone()
        }),
        "signature",
    );

    // Strict body JSON (each body is genuinely signed: only the JSON rules refuse it).
    // Written as text: a canonicalizer would round 2^53 + 1 to a double.
    let beyond = String::from_utf8(canonical(&body))
        .expect("utf-8")
        .replacen(&format!("\"exp\":{EXP}"), "\"exp\":9007199254740993", 1);
    b.add(
        "integer_beyond_2_53_in_body_is_refused",
        "exp = 2^53 + 1: not exactly representable for every reader (RFC 7493 §2.2)",
        text(&sign(beyond.as_bytes())),
        "body",
    );
    let big_arg = String::from_utf8(canonical(&body))
        .expect("utf-8")
        .replacen(
            "\"channel\":\"eng\"",
            "\"channel\":\"eng\",\"n\":9007199254740993",
            1,
        );
    b.add(
        "integer_beyond_2_53_in_action_is_refused",
        "a number beyond 2^53 inside the action: readers would disagree on the digest",
        text(&sign(big_arg.as_bytes())),
        "body",
    );
    b.add(
        "duplicate_key_in_body_is_refused",
        "`agent` twice: parsers disagree on which one counts (RFC 7493 §2.3)",
        text(&sign(&with_leading_member(
            &body,
            "\"agent\":\"other-bot\"",
        ))),
        "body",
    );
    let dup_target = String::from_utf8(canonical(&body))
        .expect("utf-8")
        .replacen(
            "\"target\":\"forum://eng/thread/42\"",
            "\"target\":\"forum://eng/thread/42\",\"target\":\"forum://all/announce\"",
            1,
        );
    b.add(
        "duplicate_key_in_action_is_refused",
        "`target` twice inside the signed action",
        text(&sign(dup_target.as_bytes())),
        "body",
    );
    b.add(
        "case_variant_key_in_body_is_refused",
        "`Agent` next to `agent`: unknown fields are refused, whatever their case",
        text(&sign(&with_leading_member(
            &body,
            "\"Agent\":\"other-bot\"",
        ))),
        "body",
    );
    b.add(
        "unknown_field_in_body_is_refused",
        "an extra member the verifier does not know",
        text(&sign(&with_leading_member(&body, "\"admin\":true"))),
        "body",
    );
    b.add(
        "lone_surrogate_in_body_is_refused",
        "a string with an unpaired UTF-16 surrogate escape is not Unicode text",
        text(&sign(&with_leading_member(&body, "\"x\":\"\\ud800\""))),
        "body",
    );
    let mut float_time = String::from_utf8(canonical(&body)).expect("utf-8");
    float_time = float_time.replacen(&format!("\"iat\":{IAT}"), &format!("\"iat\":{IAT}.5"), 1);
    b.add(
        "fractional_time_is_refused",
        "iat must be an integer",
        text(&sign(float_time.as_bytes())),
        "body",
    );
    let mut v2 = body.clone();
    v2["v"] = json!(2);
    b.add(
        "unknown_version_is_refused",
        "v = 2",
        text(&sign(&canonical(&v2))),
        "body",
    );
    let mut kind = body.clone();
    kind["action"]["kind"] = json!("message.delete");
    b.add(
        "unknown_action_kind_is_refused",
        "a signed action of a kind the gate does not know",
        text(&sign(&canonical(&kind))),
        "body",
    );
    b.add(
        "body_that_is_not_an_object_is_refused",
        "a signed JSON array",
        text(&sign(b"[1,2,3]")),
        "body",
    );
    let mut trailing = canonical(&body);
    trailing.extend_from_slice(b" {}");
    b.add(
        "trailing_data_after_body_is_refused",
        "a second JSON value after the body",
        text(&sign(&trailing)),
        "body",
    );

    // Envelope JSON.
    let env_text = text(&valid);
    b.add(
        "duplicate_payload_in_envelope_is_refused",
        "two `payload` members: one reader would check one, another execute the other",
        format!("{{\"payload\":\"{}\",{}", http.payload, &env_text[1..]),
        "envelope",
    );
    b.add(
        "case_variant_key_in_envelope_is_refused",
        "`PayloadType` is not `payloadType`",
        env_text.replacen("\"payloadType\"", "\"PayloadType\"", 1),
        "envelope",
    );
    b.add(
        "envelope_that_is_not_json_is_refused",
        "truncated envelope text",
        env_text[..env_text.len() - 2].to_string(),
        "envelope",
    );

    // Binding.
    let mut wrong_digest = body.clone();
    wrong_digest["action"]["summary"] = json!("Answer the question about READ access");
    b.add(
        "digest_mismatch_is_refused",
        "the signed action_digest is not SHA-256(JCS(action)) of the signed action",
        text(&sign(&canonical(&wrong_digest))),
        "digest",
    );

    // Freshness and audience.
    b.add(
        "expired_decision_is_refused",
        "now = exp + 61",
        text(&valid),
        "expired",
    )["now"] = json!(EXP + 61);
    b.add(
        "not_yet_valid_decision_is_refused",
        "now = iat - 61",
        text(&valid),
        "expired",
    )["now"] = json!(IAT - 61);
    let mut long = body.clone();
    long["exp"] = json!(IAT + 3600);
    b.add(
        "over_long_lifetime_is_refused",
        "exp - iat = 1 h, beyond the 5 minute maximum",
        text(&sign(&canonical(&long))),
        "expired",
    );
    let mut backwards = body.clone();
    backwards["exp"] = json!(IAT - 1);
    b.add(
        "exp_before_iat_is_refused",
        "a negative lifetime",
        text(&sign(&canonical(&backwards))),
        "expired",
    );
    b.add(
        "wrong_agent_is_refused",
        "the gate acts for another agent",
        text(&valid),
        "audience",
    )["agent"] = json!("build-bot");
    b.add(
        "wrong_draft_id_is_refused",
        "the decision is for another draft",
        text(&valid),
        "audience",
    )["action_id"] = json!("11111111-2222-3333-4444-555555555555");

    // Quorum: several signatures over one body, counted once per distinct live pinned key.
    let team = json!({"keys": [
        team_key(&ana(), "ana", "approver", None),
        team_key(&bob(), "bob", "lead", None),
        team_key(&carol(), "carol", "approver", Some(IAT - 3600)),
        team_key(&dave(), "dave", "approver", None),
        team_key(&requester(), AGENT, "approver", None),
    ]});
    let duplicate = json!({"keys": [
        team_key(&ana(), "ana", "approver", None),
        team_key(&ana(), "ana-again", "lead", None),
    ]});
    let cosigned = |keys: &[ApproverKey], body: &Value| {
        let mut env = sign_with(&keys[0], &canonical(body));
        for k in &keys[1..] {
            env.add_signature(k).expect("own payload is base64");
        }
        env
    };
    let quorum = |v: &mut Value, trust: &str, approvals: u32, lead: bool| {
        v["trust"] = json!(trust);
        v["quorum"] = json!({"approvals": approvals, "lead": lead});
    };
    let v = b.ok(
        "quorum_of_two_with_a_lead_verifies",
        "an approver and a lead co-signed; two distinct approvers and a lead are required",
        &cosigned(&[ana(), bob()], &body),
    );
    quorum(v, "team", 2, true);
    v["signers"] = json!([ana().key_id(), bob().key_id()]);
    quorum(
        b.add(
            "quorum_same_key_twice_counts_once",
            "one approver's signature twice does not make two approvers",
            text(&cosigned(&[ana(), ana()], &body)),
            "quorum",
        ),
        "team",
        2,
        false,
    );
    quorum(
        b.add(
            "quorum_one_key_pinned_under_two_names_counts_once",
            "the trust file pins one key twice (as `ana` and as a lead `ana-again`): one approver",
            text(&cosigned(&[ana(), ana()], &body)),
            "quorum",
        ),
        "duplicate",
        2,
        false,
    );
    quorum(
        b.add(
            "quorum_revoked_approver_counts_zero",
            "carol's key is revoked: her genuine signature does not count",
            text(&cosigned(&[ana(), carol()], &body)),
            "quorum",
        ),
        "team",
        2,
        false,
    );
    b.add(
        "revoked_key_alone_is_refused",
        "a decision signed only by a revoked key (old signatures are refused after a rotation)",
        text(&cosigned(&[carol()], &body)),
        "signature",
    )["trust"] = json!("team");
    quorum(
        b.add(
            "quorum_self_approval_does_not_count",
            "a key pinned under the requesting agent's own name co-signed: it does not count",
            text(&cosigned(&[ana(), requester()], &body)),
            "quorum",
        ),
        "team",
        2,
        false,
    );
    b.add(
        "self_approval_alone_is_refused",
        "the requesting agent signed its own approval",
        text(&cosigned(&[requester()], &body)),
        "quorum",
    )["trust"] = json!("team");
    quorum(
        b.add(
            "quorum_lead_required_but_only_approvers_signed",
            "two approvers, no lead",
            text(&cosigned(&[ana(), dave()], &body)),
            "quorum",
        ),
        "team",
        2,
        true,
    );
    quorum(
        b.add(
            "quorum_rejection_by_one_approver_is_a_rejection",
            "any one approver may say no: a genuine rejection is a rejection whatever the quorum",
            text(&sign(&canonical(&rejected))),
            "rejected",
        ),
        "team",
        2,
        true,
    );
    let v = b.ok(
        "one_approver_of_a_team_verifies_without_a_quorum",
        "the default quorum is one approver",
        &cosigned(&[dave()], &body),
    );
    v["trust"] = json!("team");
    v["signers"] = json!([dave().key_id()]);

    // Rotation (`countersign key rotate`): the old key revoked with a time and a reason, after
    // it signed; the new key pinned next to it.
    b.add(
        "revoked_after_signing_is_refused",
        "ana's key was revoked (rotated, with a reason) after it signed this approval: old envelopes are refused too",
        text(&valid),
        "signature",
    )["trust"] = json!("rotated");
    let v = b.ok(
        "rotated_key_verifies_after_a_rotation",
        "the key that replaced ana's signs new approvals",
        &cosigned(&[ana_rotated()], &body),
    );
    v["trust"] = json!("rotated");
    v["signers"] = json!([ana_rotated().key_id()]);
    b.add(
        "revocation_reason_without_time_is_refused",
        "a trust entry with revoked_reason but no revoked_at is ambiguous (revoked or not?); the trust file is refused",
        text(&valid),
        "trust",
    )["trust"] = json!("reason_without_time");
    let mut revoked_ana = team_key(&ana(), "ana", "approver", Some(IAT + 5));
    revoked_ana["revoked_reason"] = json!("rotated: laptop lost");
    let rotated = json!({"keys": [revoked_ana, team_key(&ana_rotated(), "ana", "approver", None)]});
    let mut unclear_ana = team_key(&ana(), "ana", "approver", None);
    unclear_ana["revoked_reason"] = json!("rotated");

    json!({
        "description": "Countersign decision envelopes (DSSE, Ed25519) and the outcome every verifier must reach. Generated by crates/countersign-core/tests/core/vectors.rs; do not edit.",
        "payload_type": DECISION_PAYLOAD_TYPE,
        "defaults": {"action_id": ACTION_ID, "agent": AGENT, "now": NOW},
        "trust": {
            "pinned": trust_of(&[(&ana_public, "ana")]),
            "small_order": trust_of(&[(&ana_public, "ana"), (&ORDER_8_POINT, "mallory")]),
            "identity": trust_of(&[(&identity, "mallory")]),
            "team": team,
            "duplicate": duplicate,
            "rotated": rotated,
            "reason_without_time": {"keys": [unclear_ana]},
        },
        "vectors": b.vectors,
        "keys_for_reference": {"unpinned": B64.encode(mallory_public)},
    })
}

/// The key `countersign key rotate` gave ana in place of her first one.
fn ana_rotated() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xa2; 32]))
}

fn bob() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xb0; 32]))
}

fn carol() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xc0; 32]))
}

fn dave() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xd0; 32]))
}

/// A key pinned under the requesting agent's own name.
fn requester() -> ApproverKey {
    ApproverKey::from_seed(&Zeroizing::new([0xe0; 32]))
}

fn team_key(key: &ApproverKey, name: &str, role: &str, revoked_at: Option<i64>) -> Value {
    let mut k = serde_json::to_value(key.trusted_key(name, role)).expect("JSON");
    if let Some(t) = revoked_at {
        k["revoked_at"] = json!(t);
    }
    k
}

fn sign_with(key: &ApproverKey, bytes: &[u8]) -> Envelope {
    Envelope::sign(DECISION_PAYLOAD_TYPE, bytes, key)
}

/// Standard base64 with padding whose last data character carries non-zero unused bits.
fn non_canonical_b64(canonical: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = canonical.trim_end_matches('=');
    assert!(
        data.len() < canonical.len(),
        "needs padding to have unused bits"
    );
    let last = data.as_bytes()[data.len() - 1];
    let index = ALPHABET.iter().position(|&c| c == last).expect("alphabet");
    let mut out = data[..data.len() - 1].to_string();
    out.push(ALPHABET[index + 1] as char);
    out.push_str(&canonical[data.len()..]);
    out
}

/// Adds ℓ to a 32-byte little-endian scalar in place.
fn add_ell(s: &mut [u8]) {
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(ELL) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + ℓ fits in 256 bits");
}

/// What the Rust verifier says about one vector: `ok` or the class of refusal, and the signers.
fn outcome(file: &Value, vector: &Value) -> (String, Vec<String>) {
    let field = |name: &str| vector.get(name).unwrap_or(&file["defaults"][name]).clone();
    let trust_name = vector["trust"].as_str().expect("trust names a set");
    let trust_bytes = serde_json::to_vec(&file["trust"][trust_name]).expect("JSON");
    let Ok(trusted) = TrustedKeys::from_json(&trust_bytes) else {
        return ("trust".into(), vec![]);
    };
    let envelope_text = vector["envelope"].as_str().expect("envelope is a string");
    let Ok(envelope) = parse_strict(envelope_text.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|v| serde_json::from_value::<Envelope>(v).map_err(|e| e.to_string()))
    else {
        return ("envelope".into(), vec![]);
    };
    let (action_id, agent) = (field("action_id"), field("agent"));
    let expect = Expectations {
        action_id: action_id.as_str().expect("string"),
        agent: agent.as_str().expect("string"),
        now: field("now").as_i64().expect("integer"),
    };
    let quorum = vector.get("quorum").map_or(Quorum::default(), |q| Quorum {
        approvals: q["approvals"].as_u64().expect("integer") as usize,
        lead: q["lead"].as_bool().expect("boolean"),
    });
    let code = match verify_decision_quorum(&envelope, &trusted, &expect, quorum) {
        Ok(_) => "ok",
        Err(GateError::Signature(VerifyError::PayloadType { .. })) => "payload_type",
        Err(GateError::Signature(VerifyError::PayloadEncoding)) => "payload_encoding",
        Err(GateError::Signature(VerifyError::NoTrustedSignature { .. })) => "signature",
        Err(GateError::Body(_)) => "body",
        Err(GateError::Digest { .. }) => "digest",
        Err(GateError::Audience(_)) => "audience",
        Err(GateError::Expired(_)) => "expired",
        Err(GateError::Rejected(_)) => "rejected",
        Err(GateError::Replay(_)) => "replay",
        Err(GateError::Quorum(_)) => "quorum",
        Err(GateError::Policy(_)) => "policy",
    };
    let signers = match envelope.verify(DECISION_PAYLOAD_TYPE, &trusted) {
        Ok(v) if code == "ok" => v.signers,
        _ => vec![],
    };
    (code.into(), signers)
}

fn committed() -> Value {
    let bytes = std::fs::read(vectors_path()).expect("tests/vectors/decisions.json is committed");
    parse_strict(&bytes).expect("the vector file is strict JSON")
}

#[test]
fn committed_vectors_match_the_generator() {
    let generated = serde_json::to_string_pretty(&generate()).expect("JSON") + "\n";
    if std::env::var_os("COUNTERSIGN_UPDATE_VECTORS").is_some() {
        std::fs::write(vectors_path(), &generated).expect("write the vectors");
    }
    let on_disk = std::fs::read_to_string(vectors_path()).expect("vectors are committed");
    assert!(
        on_disk == generated,
        "tests/vectors/decisions.json drifted from its generator: rerun with \
         COUNTERSIGN_UPDATE_VECTORS=1 and commit the result if the change is intended"
    );
}

#[test]
fn every_vector_has_its_expected_outcome_in_rust() {
    let file = committed();
    let vectors = file["vectors"].as_array().expect("a list");
    assert!(vectors.len() >= 40, "the suite covers every attack class");
    let mut wrong = Vec::new();
    for vector in vectors {
        let (code, signers) = outcome(&file, vector);
        let expected = vector["outcome"].as_str().expect("string");
        let expected_signers: Vec<String> = vector
            .get("signers")
            .map(|s| serde_json::from_value(s.clone()).expect("list of key ids"))
            .unwrap_or_default();
        if code != expected || signers != expected_signers {
            wrong.push(format!(
                "{}: expected {expected} {expected_signers:?}, got {code} {signers:?}",
                vector["name"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "vectors with the wrong outcome:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn vector_names_are_unique_and_every_refusal_class_is_covered() {
    let file = committed();
    let vectors = file["vectors"].as_array().expect("a list");
    let mut names: Vec<&str> = vectors.iter().filter_map(|v| v["name"].as_str()).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "vector names are unique");
    for class in [
        "ok",
        "trust",
        "envelope",
        "payload_type",
        "payload_encoding",
        "signature",
        "body",
        "digest",
        "audience",
        "expired",
        "rejected",
        "quorum",
    ] {
        assert!(
            vectors.iter().any(|v| v["outcome"] == class),
            "no vector for outcome `{class}`"
        );
    }
}

#[test]
fn the_small_order_keys_in_the_vectors_are_really_small_order() {
    for raw in [ORDER_8_POINT, {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    }] {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&raw).expect("a curve point");
        assert!(key.is_weak(), "{} must be of small order", hex::encode(raw));
    }
}

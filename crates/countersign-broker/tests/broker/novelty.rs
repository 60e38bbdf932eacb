//! Novelty from the store's history: the first time an agent addresses a recipient shows up
//! in the score; the second time it does not.

use crate::fixture::start;

fn email_to(to: &str) -> String {
    format!(
        r#"{{"kind":"tool.call","target":"mcp://mail","summary":"s","payload":{{"tool":"send_email","arguments":{{"to":["{to}"],"body":"hello"}}}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_recipient_after_a_known_history_scores_as_new() {
    let f = start().await;
    let agent = f.broker.authenticate(&f.token).unwrap().unwrap();
    for _ in 0..6 {
        let s = f
            .broker
            .submit(&agent, email_to("bob@example.com").as_bytes())
            .unwrap();
        assert!(
            !s.risk.factors.iter().any(|x| x.id == "novelty.counterpart"),
            "a recipient seen before (or too little history) is not new: {:?}",
            s.risk
        );
    }
    let s = f
        .broker
        .submit(&agent, email_to("mallory@elsewhere.test").as_bytes())
        .unwrap();
    let factor = s
        .risk
        .factors
        .iter()
        .find(|x| x.id == "novelty.counterpart")
        .unwrap_or_else(|| panic!("a first-time recipient must be flagged: {:?}", s.risk));
    assert!(
        factor.reason.contains("mallory@elsewhere.test"),
        "{factor:?}"
    );
}

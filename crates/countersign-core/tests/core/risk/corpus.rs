//! Ranking quality on the labelled corpus in tests/fixtures/risk/corpus.jsonl (benign and
//! harmful drafts of every kind; regenerate with make_corpus.py there). The floors are below
//! the measured values so that small detector changes pass, and a real regression does not:
//! all drafts 0.99 when this test was written (165 drafts), 0.980 after relayed-injection
//! drafts and honest hard benign cases were added (178); tool calls alone 0.935 (71).

use countersign_core::risk::score_with;

use super::org;

/// Lowest acceptable ROC AUC, harmful vs benign.
const AUC_FLOOR: f64 = 0.95;

/// Lowest acceptable ROC AUC on the tool calls alone (e-mail, files, payments, messaging as
/// function-calling agents send them), scored without per-tool configuration.
const TOOL_AUC_FLOOR: f64 = 0.90;

fn corpus() -> Vec<(String, bool, serde_json::Value)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/risk/corpus.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v = countersign_core::json::parse_strict(l.as_bytes()).unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["label"] == "harmful",
                v["draft"].clone(),
            )
        })
        .collect()
}

/// ROC AUC as the probability that a random harmful draft outscores a random benign one
/// (ties count half): the Mann–Whitney U statistic over all pairs.
fn auc(harmful: &[u8], benign: &[u8]) -> f64 {
    let mut wins = 0.0;
    for h in harmful {
        for b in benign {
            wins += match h.cmp(b) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    wins / (harmful.len() * benign.len()) as f64
}

#[test]
fn harmful_drafts_outrank_benign_ones_on_the_labelled_corpus() {
    let rows = corpus();
    assert!(rows.len() >= 150, "the corpus has {} drafts", rows.len());
    let ctx = org();
    let (mut harmful, mut benign) = (Vec::new(), Vec::new());
    let mut kinds = std::collections::BTreeSet::new();
    for (id, is_harmful, draft) in &rows {
        let action = crate::draft(draft.clone()).action();
        kinds.insert(action.kind.as_str());
        let risk = score_with(&action, &ctx);
        if *is_harmful {
            &mut harmful
        } else {
            &mut benign
        }
        .push(risk.score);
        assert!(
            !*is_harmful || risk.score > 0,
            "{id}: a harmful draft with no factor at all"
        );
    }
    assert_eq!(kinds.len(), 6, "every kind is in the corpus: {kinds:?}");
    let measured = auc(&harmful, &benign);
    assert!(
        measured >= AUC_FLOOR,
        "ROC AUC {measured:.3} fell below {AUC_FLOOR} ({} harmful, {} benign)",
        harmful.len(),
        benign.len()
    );
}

#[test]
fn harmful_tool_calls_outrank_benign_ones_without_per_tool_configuration() {
    let ctx = org();
    let (mut harmful, mut benign) = (Vec::new(), Vec::new());
    for (_, is_harmful, draft) in corpus() {
        let action = crate::draft(draft).action();
        if action.kind != countersign_core::ActionKind::ToolCall {
            continue;
        }
        let score = score_with(&action, &ctx).score;
        if is_harmful {
            harmful.push(score);
        } else {
            benign.push(score);
        }
    }
    assert!(
        harmful.len() >= 30 && benign.len() >= 30,
        "enough tool calls to measure"
    );
    let measured = auc(&harmful, &benign);
    assert!(
        measured >= TOOL_AUC_FLOOR,
        "tool-call ROC AUC {measured:.3} fell below {TOOL_AUC_FLOOR} ({} harmful, {} benign)",
        harmful.len(),
        benign.len()
    );
}

//! Injected instructions: text in a draft that addresses an AI agent and tells it what to do
//! ("ignore previous instructions", "before you can solve the task, first …", `<INFORMATION>`
//! tags, "do not tell the user"). An agent that carries such text into an e-mail, a message or
//! a file has likely read it from untrusted content; the draft is then the attacker's, not the
//! user's. The phrases follow the direct and indirect prompt-injection patterns described in
//! OWASP's Top 10 for LLM applications (LLM01: prompt injection) and in published injection
//! benchmarks; they are matched case-insensitively as phrases, not as single words.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;

use super::Scorer;
use crate::action::Action;

/// Points for text that instructs an agent.
pub const POINTS: u8 = 35;

static INSTRUCTION: LazyLock<Regex> = LazyLock::new(|| {
    super::exposure::re(concat!(
        r"(?i)",
        // Overriding what the agent was told.
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*",
        r"(?:previous|prior|above|earlier|preceding|original|system)\s+",
        r"(?:instructions?|prompts?|messages?|directions|rules|guidelines|tasks?)\b",
        // New orders presented as such.
        r"|\b(?:new|updated|real|actual|additional)\s+instructions?\s*:",
        r"|\bbefore\s+you\s+(?:can\s+)?(?:solve|complete|finish|do|continue|answer)\s+(?:the|your|this|my)\s+(?:task|request|question)",
        r"|\bthis\s+is\s+an?\s+(?:important|urgent)\s+(?:message|instruction|notice)\s+from\b",
        r"|\bto\s+you,?\s+(?:the\s+)?(?:ai|llm|language\s+model|assistant|agent)\b",
        // Hiding the action from the human.
        r"|\b(?:do\s+not|don't|never)\s+(?:tell|inform|notify|alert|show|mention\s+(?:this|it)\s+to)\s+the\s+user\b",
        r"|\bwithout\s+(?:telling|informing|notifying|asking|alerting)\s+the\s+user\b",
        // Role and prompt markers planted in content.
        r"|</?(?:information|instructions?|system|im_start|im_end)>",
        r"|\[/?(?:system|inst)\]|<<sys>>",
        r"|\bsystem\s+prompt\b",
    ))
});

/// Words one of which every match of [`INSTRUCTION`] contains (ASCII case-insensitive). An
/// Aho-Corasick scan for them runs at memory speed; the full pattern (about 20 ms per MiB with
/// its case-insensitive alternation) runs only on the strings that hold one of them.
const ANCHORS: &[&str] = &[
    "ignore",
    "disregard",
    "forget",
    "override",
    "instruction",
    "before you",
    "important",
    "urgent",
    "to you",
    "the user",
    "information>",
    "system>",
    "system]",
    "inst]",
    "<<sys",
    "im_start",
    "im_end",
    "prompt",
];

static ANCHOR: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(ANCHORS)
        .ok()
});

/// Runs the detector on every string of the payload; one factor, on the first match.
pub fn detect(action: &Action, s: &mut Scorer) {
    for (pointer, _, text) in super::strings(&action.payload, "/payload") {
        // Without the automaton (it cannot fail to build from these literals) every string
        // gets the full pattern: slower, never blind.
        if ANCHOR.as_ref().is_some_and(|a| !a.is_match(text)) {
            continue;
        }
        if let Some(m) = INSTRUCTION.find(text) {
            let phrase: String = m.as_str().chars().take(60).collect();
            s.add_span(
                "content.injected_instruction",
                POINTS,
                format!("text addressed to an AI agent with orders (`{phrase}`): a sign of prompt injection"),
                pointer,
                m.range(),
            );
            return;
        }
    }
}

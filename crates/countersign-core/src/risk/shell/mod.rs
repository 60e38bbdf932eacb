//! Destructive or irreversible shell commands, found by parsing (brush-parser, bash grammar),
//! not by grepping (the walk follows lists, pipelines, compound commands, substitutions,
//! `bash -c`, `eval` and wrappers such as `sudo`, `xargs`, `find -exec`, `ssh host CMD`).
//!
//! One classification ([`Effect`]) serves both the risk score ([`detect`]) and the impact panel
//! ([`steps`]): what the panel flags is exactly what the score counts.
//!
//! A script that does not parse scores high: what cannot be read is never low risk.

mod effects;
mod walk;

pub use effects::{Effect, NOTE};

use super::Scorer;
use crate::action::ShellExecPayload;
use walk::{Cmd, Walk};

/// Most commands [`steps`] lists one by one; the rest are summed up in one last step.
pub const MAX_STEPS: usize = 100;
/// Longest word shown in a step, in characters; longer ones end in `…`.
const MAX_WORD_CHARS: usize = 80;
/// Longest command shown in a step, in characters; longer ones end in `…`.
const MAX_COMMAND_CHARS: usize = 240;

/// Runs the detector.
pub fn detect(sh: &ShellExecPayload, s: &mut Scorer) {
    let pointer = pointer_of(sh);
    s.add(
        "shell.executes",
        10,
        "runs a program on this machine".into(),
        pointer,
    );
    if sh.argv.is_none() && sh.script.is_some() {
        s.add(
            "shell.script",
            10,
            "runs a shell script (expansions and pipes)".into(),
            pointer,
        );
    }
    walked(&walk_payload(sh), pointer, s);
}

/// Scores a command line found in a tool call's arguments (`{"command": "rm -rf …"}` of an
/// MCP shell tool) like a `shell.exec` script, at `pointer`.
pub fn detect_in_argument(script: &str, pointer: &str, s: &mut Scorer) {
    let mut w = Walk::default();
    w.script(script, 0);
    walked(&w, pointer, s);
}

/// The field of a `shell.exec` payload that holds what runs: `/payload/argv` or
/// `/payload/script`.
pub fn pointer_of(sh: &ShellExecPayload) -> &'static str {
    if sh.argv.is_some() {
        "/payload/argv"
    } else {
        "/payload/script"
    }
}

fn walk_payload(sh: &ShellExecPayload) -> Walk {
    let mut w = Walk::default();
    match (&sh.argv, &sh.script) {
        (Some(argv), _) => w.argv(argv),
        (None, Some(script)) => w.script(script, 0),
        _ => {}
    }
    w
}

/// Every effect of the walk, each with the index of the command it belongs to (`None`: the
/// script as a whole, or the redirection of a group).
fn all_effects(w: &Walk) -> Vec<(Option<usize>, Effect)> {
    let mut out: Vec<(Option<usize>, Effect)> = Vec::new();
    if let Some(e) = &w.unparseable {
        out.push((None, unparseable(e)));
    }
    for (i, cmd) in w.commands.iter().enumerate() {
        out.extend(effects::effects(cmd).into_iter().map(|e| (Some(i), e)));
    }
    out.extend(
        effects::pipeline_effects(w)
            .into_iter()
            .map(|(i, e)| (Some(i), e)),
    );
    for path in &w.group_writes {
        out.extend(effects::write_effect(path).map(|e| (None, e)));
    }
    out
}

fn unparseable(e: &str) -> Effect {
    Effect {
        id: "shell.unparseable".into(),
        points: 60,
        reason: format!("the script could not be parsed, so its effect is unknown: {e}"),
    }
}

fn walked(w: &Walk, pointer: &str, s: &mut Scorer) {
    for (_, e) in all_effects(w) {
        if e.dangerous() {
            s.add(&e.id, e.points, e.reason, pointer);
        }
    }
}

/// One command of a shell action, as the impact panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Where it sits, outermost first, e.g. `["pipeline 2 of 2"]`, `["in a subshell ( … )",
    /// "if the previous succeeds (&&)"]`; empty for a command on its own.
    pub place: Vec<String>,
    /// Program and arguments as one line: as written in a script, shell-quoted where needed
    /// for an argv; words over 80 characters and lines over 240 are cut with `…`.
    pub command: String,
    /// What it does as far as Countersign recognises it (empty: nothing recognised).
    pub effects: Vec<Effect>,
}

impl Step {
    /// Whether one of its effects is a risk factor.
    pub fn flagged(&self) -> bool {
        self.effects.iter().any(Effect::dangerous)
    }
}

/// The commands a `shell.exec` action runs, in the order they run, each with its place and its
/// effects (the same walk and classification as [`detect`]). A script that could not be parsed
/// is one step holding the whole script, its effect unknown; a part that could not be parsed
/// (a `$(…)` or `bash -c` inside) is a step of its own. At most [`MAX_STEPS`] commands are
/// listed; one more step sums up the rest.
pub fn steps(sh: &ShellExecPayload) -> Vec<Step> {
    let w = walk_payload(sh);
    let whole = match (&sh.argv, &sh.script) {
        (Some(argv), _) => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        (None, Some(script)) => script.clone(),
        _ => String::new(),
    };
    steps_of(&w, &whole)
}

/// [`steps`] for a command line found in a tool call's arguments.
pub fn script_steps(script: &str) -> Vec<Step> {
    let mut w = Walk::default();
    w.script(script, 0);
    steps_of(&w, script)
}

fn steps_of(w: &Walk, whole: &str) -> Vec<Step> {
    let mut per_command: Vec<Vec<Effect>> = vec![Vec::new(); w.commands.len()];
    let mut loose = Vec::new();
    for (i, e) in all_effects(w) {
        match i {
            Some(i) => per_command[i].push(e),
            None => loose.push(e),
        }
    }
    let mut out: Vec<Step> = w
        .commands
        .iter()
        .zip(per_command)
        .map(|(cmd, effects)| Step {
            place: cmd.place.clone(),
            command: shown(cmd),
            effects,
        })
        .collect();
    for e in loose {
        let (place, command) = if e.id == "shell.unparseable" && out.is_empty() {
            (
                "could not be parsed: shown as one command",
                shorten(whole, MAX_COMMAND_CHARS),
            )
        } else if e.id == "shell.unparseable" {
            (
                "part of the script could not be parsed",
                "(a nested script)".to_owned(),
            )
        } else {
            ("redirection of a group { … } or ( … )", String::new())
        };
        out.push(Step {
            place: vec![place.into()],
            command,
            effects: vec![e],
        });
    }
    if out.is_empty() {
        out.push(Step {
            place: Vec::new(),
            command: "(no command)".into(),
            effects: Vec::new(),
        });
    }
    if out.len() > MAX_STEPS {
        let rest = out.split_off(MAX_STEPS - 1);
        let flagged = rest.iter().filter(|s| s.flagged()).count();
        let mut effects = vec![Effect {
            id: NOTE.into(),
            points: 0,
            reason: format!(
                "{} more commands, {flagged} of them flagged: the change shows them all",
                rest.len()
            ),
        }];
        for e in rest.into_iter().flat_map(|s| s.effects) {
            if e.dangerous() && !effects.iter().any(|x| x.reason == e.reason) {
                effects.push(e);
            }
        }
        out.push(Step {
            place: vec!["not listed one by one".into()],
            command: "…".into(),
            effects,
        });
    }
    out
}

/// A command's words as written, joined, each word and the whole line shortened.
fn shown(cmd: &Cmd) -> String {
    let words: Vec<String> = cmd
        .shown
        .iter()
        .map(|w| shorten(w, MAX_WORD_CHARS))
        .collect();
    shorten(&words.join(" "), MAX_COMMAND_CHARS)
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// An argv word as a shell would need it written: bare when it holds only safe characters,
/// otherwise in single quotes (POSIX, `'` written as `'\''`).
pub(super) fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-~".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

//! The walk over a parsed script (brush-parser, bash grammar): every simple command in every
//! list, pipeline, compound command, function body, `$(…)` and backquote substitution, process
//! substitution, `bash -c SCRIPT`, `eval`, and behind `sudo`, `env`, `nohup`, `timeout`,
//! `xargs`, `find -exec`, `ssh host CMD`, in the order they run, each with its place in the
//! script (pipeline stage, `&&`/`||`/`;`, subshell, substitution, wrapper).

use brush_parser::ast::{
    Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, IoFileRedirectTarget,
    IoRedirect, Pipeline, Program,
};
use brush_parser::word::WordPiece;
use brush_parser::ParserOptions;

/// Programs that run their `-c` argument as a script.
pub(super) const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "fish"];
/// Interpreters that run a script read from standard input.
pub(super) const INTERPRETERS: &[&str] = &["python", "python3", "perl", "ruby", "node", "php"];
/// Programs that run the rest of their arguments as a command.
pub(super) const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "nohup", "timeout", "nice", "ionice", "stdbuf", "time", "exec",
    "command", "builtin", "chroot", "xargs", "watch", "strace", "setsid", "runuser", "unbuffer",
];
/// Deepest nesting of `bash -c` / `$(…)` followed; deeper input scores as unreadable.
const MAX_DEPTH: usize = 8;
/// Deepest bracket and compound-command nesting handed to brush-parser, whose recursive
/// descent would otherwise overflow the stack of a 2 MiB worker thread on a few hundred
/// nested `$(` or `if` (one draft could crash the app). Deeper scripts score as unreadable.
const MAX_NESTING: i64 = 32;
/// Longest script parsed, in bytes: parsing is roughly linear but slow (a 1 MiB script took
/// about 0.2 s), and a script that long cannot be reviewed by a human anyway.
const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// An upper estimate of a script's nesting: brackets (quoted or not) plus open compound
/// commands (`if`/`while`/`until`/`for`/`case`/`select`).
fn nesting(script: &str) -> i64 {
    let (mut depth, mut max) = (0i64, 0i64);
    for b in script.bytes() {
        match b {
            b'(' | b'{' | b'[' | b'`' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    let (mut open, mut open_max) = (0i64, 0i64);
    for w in script.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        match w {
            "if" | "while" | "until" | "for" | "case" | "select" => {
                open += 1;
                open_max = open_max.max(open);
            }
            "fi" | "done" | "esac" => open -= 1,
            _ => {}
        }
    }
    max + open_max
}

/// One command the script would run.
#[derive(Debug, Default, Clone)]
pub(super) struct Cmd {
    /// Its words, unquoted; the first is the program's base name (`/bin/rm` → `rm`).
    pub words: Vec<String>,
    /// Its words as written in the script (quotes and `$VAR` kept), for showing.
    pub shown: Vec<String>,
    /// Files its redirections write to (`> path`, `>> path`, `&> path`).
    pub writes: Vec<String>,
    /// SQL it hands to a database client (`psql -c …`).
    pub sql: Vec<String>,
    /// Where it sits, outermost first: `pipeline 2 of 2`, `in $(…)`, `run by sudo`, and how it
    /// follows the command before it (`if the previous succeeds (&&)`).
    pub place: Vec<String>,
}

/// What a walk found.
#[derive(Default)]
pub(super) struct Walk {
    /// Every command, in the order it runs (a substitution before the command using it, a
    /// wrapper before what it wraps).
    pub commands: Vec<Cmd>,
    /// Pipelines of two or more stages, as indices into `commands` (a wrapped command counts
    /// as a stage too: `curl … | sudo sh`), to find `curl … | sh`.
    pub pipelines: Vec<Vec<usize>>,
    /// Files written by the redirections of compound commands (`{ …; } > path`).
    pub group_writes: Vec<String>,
    /// Why (part of) the script could not be read.
    pub unparseable: Option<String>,
    /// Places of the enclosing constructs while walking.
    place: Vec<String>,
    /// How the next command follows the one before it (`&&`, `||`, `;`, `&`).
    joint: Option<String>,
}

fn options() -> ParserOptions {
    ParserOptions::default()
}

pub(super) fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

/// A word's text and its text as written, side by side.
type Words = (Vec<String>, Vec<String>);

impl Walk {
    /// Walks `text` as a script nested `depth` levels deep (0: the action's own script).
    pub fn script(&mut self, text: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.unparseable = Some("nested more deeply than Countersign follows".into());
            return;
        }
        if text.len() > MAX_SCRIPT_BYTES {
            self.unparseable = Some(format!(
                "{} KiB of script is more than Countersign parses ({} KiB)",
                text.len() / 1024,
                MAX_SCRIPT_BYTES / 1024
            ));
            return;
        }
        if nesting(text) > MAX_NESTING {
            self.unparseable = Some(format!(
                "nested more than {MAX_NESTING} levels deep, beyond what Countersign parses"
            ));
            return;
        }
        let mut parser = brush_parser::Parser::new(text.as_bytes(), &options());
        match parser.parse_program() {
            Ok(program) => self.program(&program, depth),
            Err(e) => self.unparseable = Some(e.to_string()),
        }
    }

    /// Walks an argument vector as `execve` receives it (no shell in between).
    pub fn argv(&mut self, argv: &[String]) {
        let shown = argv.iter().map(|a| super::quote(a)).collect();
        self.simple(argv.to_vec(), shown, Vec::new(), 0);
    }

    /// Runs `f` with `place` added to the places of the commands it records.
    fn within(&mut self, place: String, f: impl FnOnce(&mut Walk)) {
        self.place.push(place);
        f(self);
        self.place.pop();
    }

    fn program(&mut self, p: &Program, depth: usize) {
        for list in &p.complete_commands {
            self.list(list, depth);
        }
    }

    fn list(&mut self, list: &CompoundList, depth: usize) {
        let mut background_before = false;
        for (i, item) in list.0.iter().enumerate() {
            let background = matches!(item.1, brush_parser::ast::SeparatorOperator::Async);
            let and_or = &item.0;
            self.joint = match (i, background_before) {
                (0, _) => None,
                (_, true) => Some("while the previous runs (&)".into()),
                (_, false) => Some("then (;)".into()),
            };
            let walk_first = |w: &mut Walk| w.pipeline(&and_or.first, depth);
            if background {
                self.within("in the background (&)".into(), walk_first);
            } else {
                walk_first(self);
            }
            for next in &and_or.additional {
                let (joint, p) = match next {
                    brush_parser::ast::AndOr::And(p) => ("if the previous succeeds (&&)", p),
                    brush_parser::ast::AndOr::Or(p) => ("if the previous fails (||)", p),
                };
                self.joint = Some(joint.into());
                if background {
                    self.within("in the background (&)".into(), |w| w.pipeline(p, depth));
                } else {
                    self.pipeline(p, depth);
                }
            }
            background_before = background;
        }
        self.joint = None;
    }

    fn pipeline(&mut self, p: &Pipeline, depth: usize) {
        let n = p.seq.len();
        let mut stages = Vec::new();
        for (i, c) in p.seq.iter().enumerate() {
            let start = self.commands.len();
            if n > 1 {
                self.within(format!("pipeline {} of {n}", i + 1), |w| {
                    w.command(c, depth)
                });
            } else {
                self.command(c, depth);
            }
            // Every program of a stage counts, a wrapped one too (`sudo sh`).
            stages.extend(start..self.commands.len());
        }
        if n > 1 {
            self.pipelines.push(stages);
        }
    }

    fn command(&mut self, c: &Command, depth: usize) {
        match c {
            Command::Simple(sc) => {
                let mut words = (Vec::new(), Vec::new());
                let mut writes = Vec::new();
                for item in sc.prefix.iter().flat_map(|p| p.0.iter()) {
                    self.item(item, None, &mut writes, depth);
                }
                if let Some(w) = &sc.word_or_name {
                    words.0.push(self.word(&w.value, depth));
                    words.1.push(w.value.clone());
                }
                for item in sc.suffix.iter().flat_map(|s| s.0.iter()) {
                    self.item(item, Some(&mut words), &mut writes, depth);
                }
                self.simple(words.0, words.1, writes, depth);
            }
            Command::Compound(cc, redirects) => {
                self.compound(cc, depth);
                let mut writes = Vec::new();
                for r in redirects.iter().flat_map(|r| r.0.iter()) {
                    self.redirect(r, &mut writes, depth);
                }
                self.group_writes.extend(writes);
            }
            Command::Function(f) => self.within(
                format!("in function {} (runs when called)", f.fname.value),
                |w| w.compound(&f.body.0, depth),
            ),
            Command::ExtendedTest(..) => {}
        }
    }

    fn compound(&mut self, cc: &CompoundCommand, depth: usize) {
        match cc {
            CompoundCommand::BraceGroup(b) => self.list(&b.list, depth),
            CompoundCommand::Subshell(s) => {
                self.within("in a subshell ( … )".into(), |w| w.list(&s.list, depth))
            }
            CompoundCommand::ForClause(f) => {
                self.within("in a for loop".into(), |w| w.list(&f.body.list, depth))
            }
            CompoundCommand::ArithmeticForClause(f) => {
                self.within("in a for loop".into(), |w| w.list(&f.body.list, depth))
            }
            CompoundCommand::CaseClause(c) => self.within("in a case branch".into(), |w| {
                for item in &c.cases {
                    if let Some(l) = &item.cmd {
                        w.list(l, depth);
                    }
                }
            }),
            CompoundCommand::IfClause(i) => {
                self.within("in an if condition".into(), |w| w.list(&i.condition, depth));
                self.within("in an if branch".into(), |w| {
                    w.list(&i.then, depth);
                    for e in i.elses.iter().flatten() {
                        if let Some(c) = &e.condition {
                            w.list(c, depth);
                        }
                        w.list(&e.body, depth);
                    }
                });
            }
            CompoundCommand::WhileClause(l) | CompoundCommand::UntilClause(l) => {
                self.within("in a while/until loop".into(), |w| {
                    w.list(&l.0, depth);
                    w.list(&l.1.list, depth);
                })
            }
            CompoundCommand::Coprocess(c) => {
                self.within("as a coprocess".into(), |w| w.command(&c.body, depth))
            }
            CompoundCommand::Arithmetic(_) => {}
        }
    }

    fn item(
        &mut self,
        item: &CommandPrefixOrSuffixItem,
        words: Option<&mut Words>,
        writes: &mut Vec<String>,
        depth: usize,
    ) {
        match item {
            // After the program name, `of=/dev/sda` is an argument, not an assignment.
            CommandPrefixOrSuffixItem::Word(w)
            | CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                let text = self.word(&w.value, depth);
                if let Some(words) = words {
                    words.0.push(text);
                    words.1.push(w.value.clone());
                }
            }
            CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirect(r, writes, depth),
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => self
                .within("in a process substitution <( … )".into(), |w| {
                    w.list(&sub.list, depth)
                }),
        }
    }

    /// Walks a redirection, adding the file it writes (if any) to `writes`.
    fn redirect(&mut self, r: &IoRedirect, writes: &mut Vec<String>, depth: usize) {
        match r {
            IoRedirect::File(_, kind, target) => {
                let writing = !matches!(kind, brush_parser::ast::IoFileRedirectKind::Read);
                match target {
                    IoFileRedirectTarget::Filename(w) => {
                        let path = self.word(&w.value, depth);
                        if writing {
                            writes.push(path);
                        }
                    }
                    IoFileRedirectTarget::ProcessSubstitution(_, sub) => self
                        .within("in a process substitution >( … )".into(), |w| {
                            w.list(&sub.list, depth)
                        }),
                    _ => {}
                }
            }
            IoRedirect::HereString(_, w) => {
                self.word(&w.value, depth);
            }
            IoRedirect::OutputAndError(w, _) => {
                let path = self.word(&w.value, depth);
                writes.push(path);
            }
            IoRedirect::HereDocument(..) => {}
        }
    }

    /// The word with quotes removed; `$(…)` and backquotes inside it are walked as scripts.
    fn word(&mut self, raw: &str, depth: usize) -> String {
        if !raw.contains(['\'', '"', '\\', '$', '`', '~']) {
            return raw.to_owned();
        }
        let Ok(pieces) = brush_parser::word::parse(raw, &options()) else {
            return raw.to_owned();
        };
        let mut out = String::new();
        for p in &pieces {
            self.piece(&p.piece, &mut out, depth);
        }
        out
    }

    fn piece(&mut self, piece: &WordPiece, out: &mut String, depth: usize) {
        match piece {
            WordPiece::Text(t) | WordPiece::SingleQuotedText(t) | WordPiece::AnsiCQuotedText(t) => {
                out.push_str(t)
            }
            WordPiece::EscapeSequence(t) => out.push_str(t.trim_start_matches('\\')),
            WordPiece::DoubleQuotedSequence(ps) | WordPiece::GettextDoubleQuotedSequence(ps) => {
                for p in ps {
                    self.piece(&p.piece, out, depth);
                }
            }
            WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                self.within("in a substitution $( … )".into(), |w| {
                    w.script(s, depth + 1)
                });
                out.push_str("$(…)");
            }
            WordPiece::TildeExpansion(_) => out.push('~'),
            WordPiece::ParameterExpansion(_) => out.push_str("$VAR"),
            WordPiece::ArithmeticExpression(_) => out.push_str("$((…))"),
        }
    }

    /// Records a simple command (`words` unquoted, `shown` as written, `writes` its
    /// redirections' files), then walks what it runs in turn.
    fn simple(
        &mut self,
        words: Vec<String>,
        shown: Vec<String>,
        writes: Vec<String>,
        depth: usize,
    ) {
        let Some(first) = words.first() else { return };
        let program = basename(first).to_owned();
        let mut words = words;
        words[0] = program.clone();
        let mut place = self.place.clone();
        if let Some(joint) = self.joint.take() {
            place.push(joint);
        }
        let index = self.commands.len();
        self.commands.push(Cmd {
            words: words.clone(),
            shown: shown.clone(),
            writes,
            sql: Vec::new(),
            place,
        });
        let args = &words[1..];
        // The same arguments as written; an argv has no "as written" beyond itself.
        let shown_args = |from: usize, to: usize| -> Vec<String> {
            shown
                .get(1 + from..1 + to)
                .map_or_else(|| args[from..to].to_vec(), <[String]>::to_vec)
        };
        let by = format!("run by {program}");
        match program.as_str() {
            p if SHELLS.contains(&p) => {
                if let Some(pos) = args
                    .iter()
                    .position(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
                {
                    if let Some(script) = args.get(pos + 1) {
                        let place = format!("in the script of {program} -c");
                        self.within(place, |w| w.script(script, depth + 1));
                    }
                }
            }
            "eval" => self.within("run by eval".into(), |w| {
                w.script(&args.join(" "), depth + 1)
            }),
            "su" => {
                if let Some(pos) = args.iter().position(|a| a == "-c" || a == "--command") {
                    if let Some(script) = args.get(pos + 1) {
                        self.within("run by su -c".into(), |w| w.script(script, depth + 1));
                    }
                }
            }
            "ssh" => {
                // ssh [options] host command…: the command runs remotely, still this action's effect.
                let mut i = 0;
                while i < args.len() && args[i].starts_with('-') {
                    i += if matches!(args[i].as_str(), "-p" | "-i" | "-l" | "-o" | "-J" | "-F") {
                        2
                    } else {
                        1
                    };
                }
                if args.len() > i + 1 {
                    let place = format!("on {} (ssh)", args[i]);
                    self.within(place, |w| w.script(&args[i + 1..].join(" "), depth + 1));
                }
            }
            "find" => {
                for (i, a) in args.iter().enumerate() {
                    if matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
                        let end = args[i + 1..]
                            .iter()
                            .position(|x| x == ";" || x == "+")
                            .map_or(args.len(), |e| i + 1 + e);
                        let inner = args[i + 1..end].to_vec();
                        let inner_shown = shown_args(i + 1, end);
                        self.within(format!("run by find {a}, once per file"), |w| {
                            w.simple(inner, inner_shown, Vec::new(), depth + 1)
                        });
                    }
                    if a == "-delete" {
                        let mut place = self.place.clone();
                        place.push("run by find -delete, once per file".into());
                        self.commands.push(Cmd {
                            words: vec!["rm".into(), "-rf".into(), "(find -delete)".into()],
                            shown: vec!["(find … -delete)".into()],
                            place,
                            ..Cmd::default()
                        });
                    }
                }
            }
            p if WRAPPERS.contains(&p) => {
                // Skip the wrapper's own options and VAR=value / duration operands.
                let mut i = 0;
                while i < args.len() {
                    let a = &args[i];
                    let takes_value = matches!(
                        a.as_str(),
                        "-u" | "-g"
                            | "-n"
                            | "-I"
                            | "-s"
                            | "-k"
                            | "-C"
                            | "-P"
                            | "-L"
                            | "-d"
                            | "--user"
                    );
                    if a.starts_with('-') {
                        i += if takes_value { 2 } else { 1 };
                    } else if a.contains('=')
                        || (p == "timeout" && a.chars().next().is_some_and(|c| c.is_ascii_digit()))
                        || (p == "chroot" && a.starts_with('/'))
                    {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i < args.len() {
                    let inner = args[i..].to_vec();
                    let inner_shown = shown_args(i, args.len());
                    self.within(by, |w| w.simple(inner, inner_shown, Vec::new(), depth + 1));
                }
            }
            "psql" | "mysql" | "sqlite3" | "mariadb" | "clickhouse-client" | "bq" | "snowsql" => {
                let mut sql = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    if matches!(
                        a.as_str(),
                        "-c" | "-e" | "--command" | "--execute" | "--query" | "-q" | "query"
                    ) {
                        if let Some(s) = args.get(i + 1) {
                            sql.push(s.clone());
                        }
                    }
                }
                if program == "sqlite3" && args.len() >= 2 {
                    sql.push(args[args.len() - 1].clone());
                }
                self.commands[index].sql = sql;
            }
            _ => {}
        }
    }
}

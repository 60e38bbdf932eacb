//! Destructive or irreversible shell commands, found by parsing (brush-parser, bash grammar),
//! not by grepping: every simple command in every list, pipeline, compound command, function
//! body, `$(…)` and backquote substitution, process substitution, `bash -c SCRIPT`, `eval`, and
//! behind `sudo`, `env`, `nohup`, `timeout`, `xargs`, `find -exec`, `ssh host CMD`.
//!
//! A script that does not parse scores high: what cannot be read is never low risk.

use brush_parser::ast::{
    Command, CommandPrefixOrSuffixItem, CompoundCommand, CompoundList, IoFileRedirectTarget,
    IoRedirect, Pipeline, Program,
};
use brush_parser::word::WordPiece;
use brush_parser::ParserOptions;

use super::Scorer;
use crate::action::ShellExecPayload;

/// Programs that run their `-c` argument as a script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "fish"];
/// Interpreters that run a script read from standard input.
const INTERPRETERS: &[&str] = &["python", "python3", "perl", "ruby", "node", "php"];
/// Programs that run the rest of their arguments as a command.
const WRAPPERS: &[&str] = &[
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

/// One command the script would run: its words, unquoted.
#[derive(Debug, Default, Clone)]
struct Cmd {
    words: Vec<String>,
}

#[derive(Default)]
struct Walk {
    commands: Vec<Cmd>,
    /// Pipelines as lists of program names, to find `curl … | sh`.
    pipelines: Vec<Vec<String>>,
    sensitive_redirects: Vec<String>,
    unparseable: Option<String>,
    privileged: bool,
    sql: Vec<String>,
}

fn options() -> ParserOptions {
    ParserOptions::default()
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

impl Walk {
    fn script(&mut self, text: &str, depth: usize) {
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

    fn program(&mut self, p: &Program, depth: usize) {
        for list in &p.complete_commands {
            self.list(list, depth);
        }
    }

    fn list(&mut self, list: &CompoundList, depth: usize) {
        for item in &list.0 {
            let and_or = &item.0;
            self.pipeline(&and_or.first, depth);
            for next in &and_or.additional {
                match next {
                    brush_parser::ast::AndOr::And(p) | brush_parser::ast::AndOr::Or(p) => {
                        self.pipeline(p, depth)
                    }
                }
            }
        }
    }

    fn pipeline(&mut self, p: &Pipeline, depth: usize) {
        let mut names = Vec::new();
        for c in &p.seq {
            let start = self.commands.len();
            self.command(c, depth);
            if let Some(first) = self.commands.get(start) {
                names.push(first.words.first().cloned().unwrap_or_default());
            }
            // Every program of a wrapped command counts as a stage too (`sudo sh`).
            for cmd in self.commands.iter().skip(start + 1) {
                if let Some(n) = cmd.words.first() {
                    names.push(n.clone());
                }
            }
        }
        if names.len() > 1 {
            self.pipelines.push(names);
        }
    }

    fn command(&mut self, c: &Command, depth: usize) {
        match c {
            Command::Simple(sc) => {
                let mut words = Vec::new();
                for item in sc.prefix.iter().flat_map(|p| p.0.iter()) {
                    self.item(item, None, depth);
                }
                if let Some(w) = &sc.word_or_name {
                    words.push(self.word(&w.value, depth));
                }
                for item in sc.suffix.iter().flat_map(|s| s.0.iter()) {
                    self.item(item, Some(&mut words), depth);
                }
                self.simple(words, depth);
            }
            Command::Compound(cc, redirects) => {
                self.compound(cc, depth);
                for r in redirects.iter().flat_map(|r| r.0.iter()) {
                    self.redirect(r, depth);
                }
            }
            Command::Function(f) => self.compound(&f.body.0, depth),
            Command::ExtendedTest(..) => {}
        }
    }

    fn compound(&mut self, cc: &CompoundCommand, depth: usize) {
        match cc {
            CompoundCommand::BraceGroup(b) => self.list(&b.list, depth),
            CompoundCommand::Subshell(s) => self.list(&s.list, depth),
            CompoundCommand::ForClause(f) => self.list(&f.body.list, depth),
            CompoundCommand::ArithmeticForClause(f) => self.list(&f.body.list, depth),
            CompoundCommand::CaseClause(c) => {
                for item in &c.cases {
                    if let Some(l) = &item.cmd {
                        self.list(l, depth);
                    }
                }
            }
            CompoundCommand::IfClause(i) => {
                self.list(&i.condition, depth);
                self.list(&i.then, depth);
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.list(c, depth);
                    }
                    self.list(&e.body, depth);
                }
            }
            CompoundCommand::WhileClause(w) | CompoundCommand::UntilClause(w) => {
                self.list(&w.0, depth);
                self.list(&w.1.list, depth);
            }
            CompoundCommand::Coprocess(c) => self.command(&c.body, depth),
            CompoundCommand::Arithmetic(_) => {}
        }
    }

    fn item(
        &mut self,
        item: &CommandPrefixOrSuffixItem,
        words: Option<&mut Vec<String>>,
        depth: usize,
    ) {
        match item {
            CommandPrefixOrSuffixItem::Word(w) => {
                let text = self.word(&w.value, depth);
                if let Some(words) = words {
                    words.push(text);
                }
            }
            CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                // After the program name, `of=/dev/sda` is an argument, not an assignment.
                let text = self.word(&w.value, depth);
                if let Some(words) = words {
                    words.push(text);
                }
            }
            CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirect(r, depth),
            CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => self.list(&sub.list, depth),
        }
    }

    fn redirect(&mut self, r: &IoRedirect, depth: usize) {
        match r {
            IoRedirect::File(_, kind, target) => {
                let writes = !matches!(kind, brush_parser::ast::IoFileRedirectKind::Read);
                match target {
                    IoFileRedirectTarget::Filename(w) => {
                        let path = self.word(&w.value, depth);
                        if writes && sensitive_path(&path) {
                            self.sensitive_redirects.push(path);
                        }
                    }
                    IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                        self.list(&sub.list, depth)
                    }
                    _ => {}
                }
            }
            IoRedirect::HereString(_, w) => {
                self.word(&w.value, depth);
            }
            IoRedirect::OutputAndError(w, _) => {
                let path = self.word(&w.value, depth);
                if sensitive_path(&path) {
                    self.sensitive_redirects.push(path);
                }
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
                self.script(s, depth + 1);
                out.push_str("$(…)");
            }
            WordPiece::TildeExpansion(_) => out.push('~'),
            WordPiece::ParameterExpansion(_) => out.push_str("$VAR"),
            WordPiece::ArithmeticExpression(_) => out.push_str("$((…))"),
        }
    }

    /// Records a simple command, unwrapping what it runs in turn.
    fn simple(&mut self, words: Vec<String>, depth: usize) {
        let Some(first) = words.first() else { return };
        let program = basename(first).to_owned();
        let mut words = words;
        words[0] = program.clone();
        self.commands.push(Cmd {
            words: words.clone(),
        });
        let args = &words[1..];
        match program.as_str() {
            p if SHELLS.contains(&p) => {
                if let Some(pos) = args
                    .iter()
                    .position(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('c'))
                {
                    if let Some(script) = args.get(pos + 1) {
                        self.script(script, depth + 1);
                    }
                }
            }
            "eval" => self.script(&args.join(" "), depth + 1),
            "su" => {
                self.privileged = true;
                if let Some(pos) = args.iter().position(|a| a == "-c" || a == "--command") {
                    if let Some(script) = args.get(pos + 1) {
                        self.script(script, depth + 1);
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
                    self.script(&args[i + 1..].join(" "), depth + 1);
                }
            }
            "find" => {
                for (i, a) in args.iter().enumerate() {
                    if matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
                        let end = args[i + 1..]
                            .iter()
                            .position(|x| x == ";" || x == "+")
                            .map_or(args.len(), |e| i + 1 + e);
                        let inner: Vec<String> = args[i + 1..end].to_vec();
                        self.simple(inner, depth + 1);
                    }
                    if a == "-delete" {
                        self.commands.push(Cmd {
                            words: vec!["rm".into(), "-rf".into(), "(find -delete)".into()],
                        });
                    }
                }
            }
            p if WRAPPERS.contains(&p) => {
                if p == "sudo" || p == "doas" || p == "runuser" {
                    self.privileged = true;
                }
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
                    self.simple(args[i..].to_vec(), depth + 1);
                }
            }
            "psql" | "mysql" | "sqlite3" | "mariadb" | "clickhouse-client" | "bq" | "snowsql" => {
                for (i, a) in args.iter().enumerate() {
                    if matches!(
                        a.as_str(),
                        "-c" | "-e" | "--command" | "--execute" | "--query" | "-q" | "query"
                    ) {
                        if let Some(sql) = args.get(i + 1) {
                            self.sql.push(sql.clone());
                        }
                    }
                }
                if program == "sqlite3" && args.len() >= 2 {
                    self.sql.push(args[args.len() - 1].clone());
                }
            }
            _ => {}
        }
    }
}

/// Paths whose overwrite changes who can log in or what runs at start-up.
fn sensitive_path(path: &str) -> bool {
    const PATHS: &[&str] = &[
        "/etc/",
        "/boot/",
        "/dev/sd",
        "/dev/nvme",
        "/dev/disk",
        ".ssh/",
        "authorized_keys",
        ".bashrc",
        ".profile",
        ".zshrc",
        "/usr/bin/",
        "/usr/local/bin/",
        "crontab",
        "sudoers",
    ];
    PATHS.iter().any(|p| path.contains(p))
}

fn has_flag(args: &[String], short: char, long: &str) -> bool {
    args.iter().any(|a| {
        a == long || (a.starts_with('-') && !a.starts_with("--") && a[1..].contains(short))
    })
}

/// Runs the detector.
pub fn detect(sh: &ShellExecPayload, s: &mut Scorer) {
    let pointer = if sh.argv.is_some() {
        "/payload/argv"
    } else {
        "/payload/script"
    };
    s.add(
        "shell.executes",
        10,
        "runs a program on this machine".into(),
        pointer,
    );
    let mut w = Walk::default();
    match (&sh.argv, &sh.script) {
        (Some(argv), _) => w.simple(argv.clone(), 0),
        (None, Some(script)) => {
            s.add(
                "shell.script",
                10,
                "runs a shell script (expansions and pipes)".into(),
                pointer,
            );
            w.script(script, 0);
        }
        _ => {}
    }
    walked(&w, pointer, s);
}

/// Scores a command line found in a tool call's arguments (`{"command": "rm -rf …"}` of an
/// MCP shell tool) like a `shell.exec` script, at `pointer`.
pub fn detect_in_argument(script: &str, pointer: &str, s: &mut Scorer) {
    let mut w = Walk::default();
    w.script(script, 0);
    walked(&w, pointer, s);
}

fn walked(w: &Walk, pointer: &str, s: &mut Scorer) {
    if let Some(e) = &w.unparseable {
        s.add(
            "shell.unparseable",
            60,
            format!("the script could not be parsed, so its effect is unknown: {e}"),
            pointer,
        );
    }
    if w.privileged {
        s.add(
            "shell.privileged",
            20,
            "runs as another user (`sudo`)".into(),
            pointer,
        );
    }
    for cmd in &w.commands {
        command_factors(cmd, pointer, s);
    }
    for names in &w.pipelines {
        let download = names.iter().position(|n| {
            matches!(
                basename(n),
                "curl" | "wget" | "fetch" | "nc" | "base64" | "xxd"
            )
        });
        let runs = names.iter().rposition(|n| {
            let n = basename(n);
            SHELLS.contains(&n) || INTERPRETERS.iter().any(|i| n.starts_with(i))
        });
        if let (Some(d), Some(r)) = (download, runs) {
            if r > d {
                s.add(
                    "shell.remote_code",
                    40,
                    "pipes a download into a shell".into(),
                    pointer,
                );
            }
        }
    }
    if let Some(path) = w.sensitive_redirects.first() {
        s.add(
            "shell.sensitive_write",
            30,
            format!("overwrites `{path}`, which controls logins or start-up"),
            pointer,
        );
    }
    for sql in &w.sql {
        super::sql::scan(sql, pointer, None, s);
    }
}

fn command_factors(cmd: &Cmd, pointer: &str, s: &mut Scorer) {
    let Some(program) = cmd.words.first() else {
        return;
    };
    let args = &cmd.words[1..];
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    match program.as_str() {
        "rm" => {
            let recursive =
                has_flag(args, 'r', "--recursive") || has_flag(args, 'R', "--recursive");
            let force = has_flag(args, 'f', "--force");
            let root = args.iter().any(|a| a == "--no-preserve-root")
                || positional.iter().any(|p| {
                    matches!(
                        p.as_str(),
                        "/" | "/*"
                            | "~"
                            | "~/"
                            | "$VAR"
                            | "$VAR/"
                            | "."
                            | "*"
                            | ".."
                            | "/home"
                            | "/etc"
                            | "/var"
                            | "/usr"
                    )
                });
            if recursive && force {
                s.add(
                    "shell.recursive_delete",
                    40,
                    "deletes recursively (`rm -rf`)".into(),
                    pointer,
                );
            } else if recursive {
                s.add(
                    "shell.recursive_delete",
                    30,
                    "deletes recursively (`rm -r`)".into(),
                    pointer,
                );
            } else {
                s.add("shell.delete", 10, "deletes files".into(), pointer);
            }
            if recursive && root {
                s.add(
                    "shell.delete_everything",
                    40,
                    format!(
                        "deletes a root, home or wildcard path (`{}`)",
                        positional
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    pointer,
                );
            }
        }
        "chmod" => {
            if args.iter().any(|a| {
                a.contains("777") || a.contains("o+w") || a.contains("a+w") || a.contains("a+rwx")
            }) {
                s.add(
                    "shell.world_writable",
                    25,
                    "makes files world-writable".into(),
                    pointer,
                );
            }
            if has_flag(args, 'R', "--recursive") {
                s.add(
                    "shell.recursive_permissions",
                    10,
                    "changes permissions recursively".into(),
                    pointer,
                );
            }
        }
        "chown" if has_flag(args, 'R', "--recursive") => {
            s.add(
                "shell.recursive_permissions",
                10,
                "changes owners recursively".into(),
                pointer,
            );
        }
        "git" => git(args, pointer, s),
        "dd" if args.iter().any(|a| a.starts_with("of=/dev/")) => {
            s.add(
                "shell.disk_overwrite",
                60,
                "writes raw bytes to a disk device (`dd of=/dev/…`)".into(),
                pointer,
            );
        }
        p if p.starts_with("mkfs")
            || matches!(p, "wipefs" | "shred" | "fdisk" | "parted" | "sgdisk") =>
        {
            s.add(
                "shell.disk_overwrite",
                60,
                format!("`{p}` destroys data on a disk or file"),
                pointer,
            );
        }
        "shutdown" | "reboot" | "halt" | "poweroff" | "init" => {
            s.add(
                "shell.availability",
                25,
                format!("`{program}` stops the machine"),
                pointer,
            );
        }
        "systemctl" | "service"
            if args
                .iter()
                .any(|a| matches!(a.as_str(), "stop" | "disable" | "mask" | "kill")) =>
        {
            s.add(
                "shell.availability",
                20,
                "stops or disables a service".into(),
                pointer,
            );
        }
        "kill" | "pkill" | "killall" => {
            s.add("shell.availability", 10, "kills processes".into(), pointer);
        }
        "iptables" | "ufw" | "nft"
            if args
                .iter()
                .any(|a| matches!(a.as_str(), "-F" | "--flush" | "disable" | "flush")) =>
        {
            s.add(
                "shell.firewall",
                30,
                "flushes or disables the firewall".into(),
                pointer,
            );
        }
        "crontab" if args.iter().any(|a| a == "-r") => {
            s.add("shell.delete", 25, "deletes the crontab".into(), pointer);
        }
        "passwd" | "chpasswd" | "usermod" | "useradd" | "userdel" | "visudo" => {
            s.add(
                "shell.credentials",
                35,
                format!("`{program}` changes accounts or passwords"),
                pointer,
            );
        }
        "kubectl" | "helm" | "terraform" | "docker" | "aws" | "gcloud" | "az"
            if args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "delete"
                        | "destroy"
                        | "rm"
                        | "rmi"
                        | "prune"
                        | "uninstall"
                        | "terminate-instances"
                        | "delete-bucket"
                        | "rb"
                )
            }) =>
        {
            s.add(
                "shell.infra_delete",
                40,
                format!("`{program}` deletes infrastructure"),
                pointer,
            );
        }
        "truncate" => s.add("shell.delete", 20, "truncates files".into(), pointer),
        _ => {}
    }
}

fn git(args: &[String], pointer: &str, s: &mut Scorer) {
    let Some(sub) = args.iter().find(|a| !a.starts_with('-')) else {
        return;
    };
    let rest: Vec<&String> = args.iter().skip_while(|a| *a != sub).skip(1).collect();
    match sub.as_str() {
        "push" => {
            if rest.iter().any(|a| {
                a.starts_with("--force") || *a == "-f" || (a.starts_with('+') && a.len() > 1)
            }) {
                s.add(
                    "shell.force_push",
                    40,
                    "force-pushes, overwriting remote history".into(),
                    pointer,
                );
            }
            if rest
                .iter()
                .any(|a| *a == "--delete" || *a == "-d" || a.starts_with(':'))
            {
                s.add(
                    "shell.force_push",
                    30,
                    "deletes a remote branch".into(),
                    pointer,
                );
            }
        }
        "reset" if rest.iter().any(|a| *a == "--hard") => {
            s.add(
                "shell.history_rewrite",
                20,
                "discards work (`git reset --hard`)".into(),
                pointer,
            );
        }
        "filter-branch" | "filter-repo" | "rebase" => {
            s.add(
                "shell.history_rewrite",
                30,
                format!("rewrites history (`git {sub}`)"),
                pointer,
            );
        }
        "commit" if rest.iter().any(|a| *a == "--amend") => {
            s.add(
                "shell.history_rewrite",
                10,
                "rewrites the last commit".into(),
                pointer,
            );
        }
        "clean" if rest.iter().any(|a| a.starts_with('-') && a.contains('f')) => {
            s.add(
                "shell.delete",
                20,
                "deletes untracked files (`git clean -f`)".into(),
                pointer,
            );
        }
        "branch" if rest.iter().any(|a| *a == "-D") => {
            s.add("shell.delete", 15, "force-deletes a branch".into(), pointer);
        }
        _ => {}
    }
}

//! What one shell command does: the classification the risk score adds up and the impact
//! panel lists, so the two never disagree. Each [`Effect`] is either a risk factor (points > 0)
//! or a plain description (points 0: `downloads from the network`).

use super::walk::{basename, Cmd, Walk, INTERPRETERS, SHELLS, WRAPPERS};
use crate::risk::Scorer;

/// One thing a command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// The risk factor's id (`shell.recursive_delete`, `sql.drop`), or [`NOTE`] for a
    /// description that scores nothing.
    pub id: String,
    /// Points it adds to the risk score (0 for a description).
    pub points: u8,
    /// One line a human understands, e.g. "deletes recursively (`rm -rf`)".
    pub reason: String,
}

/// The id of an [`Effect`] that describes without scoring.
pub const NOTE: &str = "shell.note";

impl Effect {
    fn new(id: &str, points: u8, reason: String) -> Effect {
        Effect {
            id: id.into(),
            points,
            reason,
        }
    }

    fn note(reason: &str) -> Effect {
        Effect::new(NOTE, 0, reason.into())
    }

    /// Whether the risk score counts it (what the risk panel would flag).
    pub fn dangerous(&self) -> bool {
        self.points > 0
    }
}

/// Everything `cmd` does on its own: the dangerous effects of its program and arguments, what
/// its redirections overwrite, the SQL it runs, and a description of what it is.
pub(super) fn effects(cmd: &Cmd) -> Vec<Effect> {
    let mut out = Vec::new();
    program_effects(cmd, &mut out);
    notes(cmd, &mut out);
    for path in &cmd.writes {
        if let Some(e) = write_effect(path) {
            out.push(e);
        }
    }
    for sql in &cmd.sql {
        let mut s = Scorer::default();
        crate::risk::sql::scan(sql, "", None, &mut s);
        out.extend(
            s.factors
                .into_iter()
                .map(|f| Effect::new(&f.id, f.points, f.reason)),
        );
    }
    out
}

/// What writing to `path` through a redirection does; `None` for the harmless sinks.
pub(super) fn write_effect(path: &str) -> Option<Effect> {
    if matches!(path, "/dev/null" | "/dev/stdout" | "/dev/stderr") || path.starts_with("/dev/fd/") {
        return None;
    }
    Some(if sensitive_path(path) {
        Effect::new(
            "shell.sensitive_write",
            30,
            format!("overwrites `{path}`, which controls logins or start-up"),
        )
    } else {
        Effect::new(NOTE, 0, format!("writes to `{path}`"))
    })
}

/// Effects of whole pipelines, as `(index of the command in the walk, effect)`: a stage that
/// runs code read from the pipe, and a download piped into a shell (`curl … | sh`).
pub(super) fn pipeline_effects(w: &Walk) -> Vec<(usize, Effect)> {
    let mut out = Vec::new();
    let name = |i: &usize| w.commands[*i].words.first().map_or("", |n| basename(n));
    for stages in &w.pipelines {
        let runner = |i: &usize| {
            let n = name(i);
            SHELLS.contains(&n) || INTERPRETERS.iter().any(|p| n.starts_with(p))
        };
        let download = stages
            .iter()
            .position(|i| matches!(name(i), "curl" | "wget" | "fetch" | "nc" | "base64" | "xxd"));
        // The last interpreter after the download, even one given `-c`: `python3 -c
        // "exec(sys.stdin.read())"` runs the download as surely as `sh` does.
        let remote = stages
            .iter()
            .rposition(runner)
            .filter(|r| download.is_some_and(|d| *r > d));
        for (pos, i) in stages.iter().enumerate().skip(1) {
            if runner(i) && !inline_code(&w.commands[*i]) {
                out.push((*i, Effect::note("runs the code it reads from the pipe")));
            }
            if Some(pos) == remote {
                out.push((
                    *i,
                    Effect::new(
                        "shell.remote_code",
                        40,
                        "pipes a download into a shell".into(),
                    ),
                ));
            }
        }
    }
    out
}

/// Whether a shell or interpreter is given its code as an argument (`sh -c`, `perl -e`)
/// rather than reading it.
fn inline_code(cmd: &Cmd) -> bool {
    let shell = cmd
        .words
        .first()
        .is_some_and(|p| SHELLS.contains(&p.as_str()));
    cmd.words.iter().skip(1).any(|a| {
        a.starts_with('-')
            && !a.starts_with("--")
            && (a.contains('c') || (!shell && a.contains('e')))
    })
}

/// Plain descriptions of well-known programs (no points), and running as another user.
fn notes(cmd: &Cmd, out: &mut Vec<Effect>) {
    let Some(program) = cmd.words.first() else {
        return;
    };
    let args = &cmd.words[1..];
    let flag = |names: &[&str]| args.iter().any(|a| names.contains(&a.as_str()));
    match program.as_str() {
        "sudo" | "doas" | "runuser" | "su" => out.push(Effect::new(
            "shell.privileged",
            20,
            format!("runs as another user (`{program}`)"),
        )),
        "curl" | "wget" | "fetch" | "aria2c" => out.push(Effect::note(
            if flag(&[
                "-d",
                "--data",
                "--data-binary",
                "--data-raw",
                "-F",
                "--form",
                "-T",
                "--upload-file",
                "--post-data",
                "--post-file",
            ]) || args.iter().any(|a| a == "-XPOST" || a == "-XPUT")
                || args.windows(2).any(|w| w[0] == "-X" && w[1] != "GET")
            {
                "sends data over the network"
            } else {
                "downloads from the network"
            },
        )),
        "nc" | "ncat" | "netcat" | "socat" | "telnet" => {
            out.push(Effect::note("opens a network connection"))
        }
        "scp" | "sftp" | "rsync" => out.push(Effect::note(
            "copies files, possibly to or from another machine",
        )),
        "ssh" => out.push(Effect::note("runs commands on another machine")),
        "eval" => out.push(Effect::note("runs its arguments as shell code")),
        "psql" | "mysql" | "sqlite3" | "mariadb" | "clickhouse-client" | "bq" | "snowsql" => {
            out.push(Effect::note("runs SQL on a database"))
        }
        "mv" => out.push(Effect::note(
            "moves or renames files (overwrites the target)",
        )),
        "cp" => out.push(Effect::note("copies files (overwrites the target)")),
        "tee" => out.push(Effect::note("writes what it reads to files")),
        p if (SHELLS.contains(&p) || INTERPRETERS.iter().any(|i| p.starts_with(i)))
            && inline_code(cmd) =>
        {
            out.push(Effect::note("runs code given as an argument"))
        }
        p if WRAPPERS.contains(&p) => out.push(Effect::note("runs the command that follows")),
        _ => {}
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

fn program_effects(cmd: &Cmd, out: &mut Vec<Effect>) {
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
                out.push(Effect::new(
                    "shell.recursive_delete",
                    40,
                    "deletes recursively (`rm -rf`)".into(),
                ));
            } else if recursive {
                out.push(Effect::new(
                    "shell.recursive_delete",
                    30,
                    "deletes recursively (`rm -r`)".into(),
                ));
            } else {
                out.push(Effect::new("shell.delete", 10, "deletes files".into()));
            }
            if recursive && root {
                out.push(Effect::new(
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
                ));
            }
        }
        "chmod" => {
            if args.iter().any(|a| {
                a.contains("777") || a.contains("o+w") || a.contains("a+w") || a.contains("a+rwx")
            }) {
                out.push(Effect::new(
                    "shell.world_writable",
                    25,
                    "makes files world-writable".into(),
                ));
            }
            if has_flag(args, 'R', "--recursive") {
                out.push(Effect::new(
                    "shell.recursive_permissions",
                    10,
                    "changes permissions recursively".into(),
                ));
            }
        }
        "chown" if has_flag(args, 'R', "--recursive") => {
            out.push(Effect::new(
                "shell.recursive_permissions",
                10,
                "changes owners recursively".into(),
            ));
        }
        "git" => git(args, out),
        "dd" if args.iter().any(|a| a.starts_with("of=/dev/")) => {
            out.push(Effect::new(
                "shell.disk_overwrite",
                60,
                "writes raw bytes to a disk device (`dd of=/dev/…`)".into(),
            ));
        }
        p if p.starts_with("mkfs")
            || matches!(p, "wipefs" | "shred" | "fdisk" | "parted" | "sgdisk") =>
        {
            out.push(Effect::new(
                "shell.disk_overwrite",
                60,
                format!("`{p}` destroys data on a disk or file"),
            ));
        }
        "shutdown" | "reboot" | "halt" | "poweroff" | "init" => {
            out.push(Effect::new(
                "shell.availability",
                25,
                format!("`{program}` stops the machine"),
            ));
        }
        "systemctl" | "service"
            if args
                .iter()
                .any(|a| matches!(a.as_str(), "stop" | "disable" | "mask" | "kill")) =>
        {
            out.push(Effect::new(
                "shell.availability",
                20,
                "stops or disables a service".into(),
            ));
        }
        "kill" | "pkill" | "killall" => {
            out.push(Effect::new(
                "shell.availability",
                10,
                "kills processes".into(),
            ));
        }
        "iptables" | "ufw" | "nft"
            if args
                .iter()
                .any(|a| matches!(a.as_str(), "-F" | "--flush" | "disable" | "flush")) =>
        {
            out.push(Effect::new(
                "shell.firewall",
                30,
                "flushes or disables the firewall".into(),
            ));
        }
        "crontab" if args.iter().any(|a| a == "-r") => {
            out.push(Effect::new(
                "shell.delete",
                25,
                "deletes the crontab".into(),
            ));
        }
        "passwd" | "chpasswd" | "usermod" | "useradd" | "userdel" | "visudo" => {
            out.push(Effect::new(
                "shell.credentials",
                35,
                format!("`{program}` changes accounts or passwords"),
            ));
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
            out.push(Effect::new(
                "shell.infra_delete",
                40,
                format!("`{program}` deletes infrastructure"),
            ));
        }
        "truncate" => out.push(Effect::new("shell.delete", 20, "truncates files".into())),
        _ => {}
    }
}

fn git(args: &[String], out: &mut Vec<Effect>) {
    let Some(sub) = args.iter().find(|a| !a.starts_with('-')) else {
        return;
    };
    let rest: Vec<&String> = args.iter().skip_while(|a| *a != sub).skip(1).collect();
    match sub.as_str() {
        "push" => {
            if rest.iter().any(|a| {
                a.starts_with("--force") || *a == "-f" || (a.starts_with('+') && a.len() > 1)
            }) {
                out.push(Effect::new(
                    "shell.force_push",
                    40,
                    "force-pushes, overwriting remote history".into(),
                ));
            }
            if rest
                .iter()
                .any(|a| *a == "--delete" || *a == "-d" || a.starts_with(':'))
            {
                out.push(Effect::new(
                    "shell.force_push",
                    30,
                    "deletes a remote branch".into(),
                ));
            }
        }
        "reset" if rest.iter().any(|a| *a == "--hard") => {
            out.push(Effect::new(
                "shell.history_rewrite",
                20,
                "discards work (`git reset --hard`)".into(),
            ));
        }
        "filter-branch" | "filter-repo" | "rebase" => {
            out.push(Effect::new(
                "shell.history_rewrite",
                30,
                format!("rewrites history (`git {sub}`)"),
            ));
        }
        "commit" if rest.iter().any(|a| *a == "--amend") => {
            out.push(Effect::new(
                "shell.history_rewrite",
                10,
                "rewrites the last commit".into(),
            ));
        }
        "clean" if rest.iter().any(|a| a.starts_with('-') && a.contains('f')) => {
            out.push(Effect::new(
                "shell.delete",
                20,
                "deletes untracked files (`git clean -f`)".into(),
            ));
        }
        "branch" if rest.iter().any(|a| *a == "-D") => {
            out.push(Effect::new(
                "shell.delete",
                15,
                "force-deletes a branch".into(),
            ));
        }
        _ => {}
    }
}

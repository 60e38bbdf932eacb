//! Destructive SQL, found by parsing (sqlparser, generic dialect): `DROP`, `TRUNCATE`,
//! `DELETE`/`UPDATE` without `WHERE`, `GRANT` (to `PUBLIC` above all), `ALTER … DROP`.
//!
//! Statements come from tool and HTTP arguments named like `sql`/`query`/`statement`, from
//! `psql -c`/`mysql -e` in shell commands, and from `.sql` files being written. Text that
//! starts like SQL but does not parse scores high: it may hide anything.

use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::Scorer;
use crate::action::{Action, ActionKind};

/// Argument names that carry SQL.
const SQL_KEYS: &[&str] = &[
    "sql",
    "query",
    "statement",
    "statements",
    "command",
    "q",
    "stmt",
];
/// First words of statements that change something.
const SQL_VERBS: &[&str] = &[
    "select", "with", "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant",
    "revoke", "merge", "replace", "upsert",
];

/// Whether `text` starts like an SQL statement.
pub fn looks_like_sql(text: &str) -> bool {
    let first = text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    SQL_VERBS.contains(&first.as_str()) && text.trim().contains(' ')
}

/// Runs the detector over SQL-bearing arguments of tool calls and HTTP requests and over
/// `.sql` files being written.
pub fn detect(action: &Action, s: &mut Scorer) {
    match action.kind {
        ActionKind::ToolCall | ActionKind::HttpRequest => {
            for (pointer, key, text) in super::strings(&action.payload, "/payload") {
                let keyed =
                    key.is_some_and(|k| SQL_KEYS.contains(&k.to_ascii_lowercase().as_str()));
                if (keyed || text.len() < 100_000) && looks_like_sql(text) {
                    scan(text, &pointer, key, s);
                }
            }
        }
        ActionKind::FileWrite => {
            let is_sql = action
                .payload
                .get("path")
                .and_then(|p| p.as_str())
                .is_some_and(|p| p.to_ascii_lowercase().ends_with(".sql"));
            if let Some(content) = action.payload.get("content").and_then(|c| c.as_str()) {
                if is_sql {
                    scan(content, "/payload/content", Some("content"), s);
                }
            }
        }
        _ => {}
    }
}

/// Parses `sql` and adds a factor for each destructive statement, at `pointer`.
pub fn scan(sql: &str, pointer: &str, _key: Option<&str>, s: &mut Scorer) {
    let statements = match Parser::parse_sql(&GenericDialect {}, sql) {
        Ok(st) => st,
        Err(e) => {
            if looks_like_sql(sql) {
                s.add(
                    "sql.unparseable",
                    40,
                    format!("SQL that could not be parsed, so its effect is unknown: {e}"),
                    pointer,
                );
            }
            return;
        }
    };
    for st in &statements {
        statement(st, pointer, s);
    }
}

fn statement(st: &Statement, pointer: &str, s: &mut Scorer) {
    match st {
        Statement::Drop {
            object_type, names, ..
        } => {
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            s.add(
                "sql.drop",
                55,
                format!(
                    "drops {} `{}`",
                    object_type.to_string().to_lowercase(),
                    names.join("`, `")
                ),
                pointer,
            );
        }
        Statement::Truncate(t) => {
            let names: Vec<String> = t.table_names.iter().map(|n| n.name.to_string()).collect();
            s.add(
                "sql.truncate",
                50,
                format!("empties table `{}`", names.join("`, `")),
                pointer,
            );
        }
        Statement::Delete(d) => {
            if d.selection.is_none() && d.limit.is_none() {
                s.add(
                    "sql.delete_all",
                    50,
                    format!("deletes every row (`{}` has no WHERE)", short(st)),
                    pointer,
                );
            } else {
                s.add("sql.delete", 15, "deletes rows".into(), pointer);
            }
        }
        Statement::Update(u) => {
            if u.selection.is_none() {
                s.add(
                    "sql.update_all",
                    40,
                    format!("changes every row of `{}` (no WHERE)", u.table),
                    pointer,
                );
            } else {
                s.add("sql.update", 10, "changes rows".into(), pointer);
            }
        }
        Statement::Grant(g) => {
            let grantees: Vec<String> = g.grantees.iter().map(ToString::to_string).collect();
            let public = grantees
                .iter()
                .any(|g| super::access::is_broad(g) || g.eq_ignore_ascii_case("public"));
            s.add(
                "sql.grant",
                if public { 50 } else { 30 },
                format!("grants {} to `{}`", g.privileges, grantees.join("`, `")),
                pointer,
            );
        }
        Statement::Revoke(_) => s.add("sql.revoke", 15, "revokes privileges".into(), pointer),
        Statement::AlterTable(a) => {
            let text = st.to_string().to_ascii_uppercase();
            if text.contains(" DROP ") {
                s.add(
                    "sql.alter_drop",
                    35,
                    format!("drops part of table `{}`", a.name),
                    pointer,
                );
            } else {
                s.add(
                    "sql.alter",
                    10,
                    format!("alters table `{}`", a.name),
                    pointer,
                );
            }
        }
        _ => {}
    }
}

fn short(st: &Statement) -> String {
    let text = st.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/**
 * Syntax highlighting for code and config in diffs, by refractor (Prism's grammars producing a
 * syntax tree, not HTML): the tree's text is rendered by React like any other text (through
 * SafeText, so hidden characters still show as badges), and only the grammar's token class
 * names reach the DOM. Nothing from the draft is ever parsed as HTML.
 */
import type { Element, Root, RootContent } from "hast";
import { refractor } from "refractor/core";
import bash from "refractor/bash";
import css from "refractor/css";
import docker from "refractor/docker";
import go from "refractor/go";
import hcl from "refractor/hcl";
import ini from "refractor/ini";
import javascript from "refractor/javascript";
import json from "refractor/json";
import markup from "refractor/markup";
import nginx from "refractor/nginx";
import properties from "refractor/properties";
import python from "refractor/python";
import rust from "refractor/rust";
import sql from "refractor/sql";
import toml from "refractor/toml";
import typescript from "refractor/typescript";
import yaml from "refractor/yaml";

for (const lang of [bash, css, docker, go, hcl, ini, javascript, json, markup, nginx, properties, python, rust, sql, toml, typescript, yaml]) {
  refractor.register(lang);
}

/** Grammar by file extension (lower case, without the dot). */
const BY_EXTENSION: Record<string, string> = {
  json: "json",
  jsonc: "json",
  yaml: "yaml",
  yml: "yaml",
  toml: "toml",
  ini: "ini",
  cfg: "ini",
  conf: "ini",
  env: "properties",
  properties: "properties",
  sh: "bash",
  bash: "bash",
  zsh: "bash",
  py: "python",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  ts: "typescript",
  mts: "typescript",
  rs: "rust",
  go: "go",
  sql: "sql",
  tf: "hcl",
  hcl: "hcl",
  xml: "markup",
  html: "markup",
  svg: "markup",
  css: "css",
};

/** Grammar by whole file name (lower case). */
const BY_NAME: Record<string, string> = {
  dockerfile: "docker",
  "nginx.conf": "nginx",
  ".env": "properties",
  ".bashrc": "bash",
  ".profile": "bash",
};

/**
 * The grammar for a file at `path` (a path or a `file://` URL), from its name or extension;
 * null for anything else (shown as plain text).
 */
export function languageOf(path: string): string | null {
  const name = (path.split(/[/\\]/).pop() ?? "").toLowerCase();
  if (BY_NAME[name]) return BY_NAME[name];
  if (name.startsWith("dockerfile")) return "docker";
  const dot = name.lastIndexOf(".");
  if (dot < 0) return null;
  return BY_EXTENSION[name.slice(dot + 1)] ?? null;
}

/**
 * A run of text and its class names: Prism's token types prefixed `syn-` (`syn-string`,
 * `syn-property`; the app's own CSS names cannot collide with them); null for plain text.
 */
export type Token = { text: string; cls: string | null };

/** Highlights longer than this (characters) are not attempted: the line shows plain. */
export const HIGHLIGHT_MAX = 4000;

function walk(nodes: readonly (RootContent | Element)[], cls: string | null, out: Token[]) {
  for (const n of nodes) {
    if (n.type === "text") out.push({ text: n.value, cls });
    else if (n.type === "element") {
      const own = n.properties?.className;
      const names = Array.isArray(own) ? own.filter((c): c is string => typeof c === "string" && c !== "token") : [];
      walk(n.children, names.length ? names.map((c) => `syn-${c}`).join(" ") : cls, out);
    }
  }
}

/**
 * `text` split into tokens of grammar `lang` (see {@link languageOf}); the tokens' texts join
 * to `text` exactly. One token without class when there is no grammar, the text is longer than
 * {@link HIGHLIGHT_MAX}, or the grammar fails.
 */
export function tokenize(text: string, lang: string | null): Token[] {
  if (!lang || text.length === 0 || text.length > HIGHLIGHT_MAX || !refractor.registered(lang)) return [{ text, cls: null }];
  try {
    const tree: Root = refractor.highlight(text, lang);
    const out: Token[] = [];
    walk(tree.children, null, out);
    return out.map((t) => t.text).join("") === text ? out : [{ text, cls: null }];
  } catch {
    return [{ text, cls: null }];
  }
}

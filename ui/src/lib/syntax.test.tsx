import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { TextDiff } from "../bindings/TextDiff";
import { TextDiffView } from "../components/TextDiffView";
import { HIGHLIGHT_MAX, languageOf, tokenize } from "./syntax";

describe("languageOf", () => {
  it.each([
    ["/srv/app/config.json", "json"],
    ["deploy/values.YML", "yaml"],
    ["Cargo.toml", "toml"],
    ["/etc/nginx/nginx.conf", "nginx"],
    ["/etc/app.conf", "ini"],
    ["scripts/run.sh", "bash"],
    ["src/main.rs", "rust"],
    ["web/app.ts", "typescript"],
    ["Dockerfile", "docker"],
    ["Dockerfile.prod", "docker"],
    ["infra/main.tf", "hcl"],
    ["file:///srv/.env", "properties"],
    ["notes.txt", null],
    ["README", null],
  ])("%s → %s", (path, lang) => {
    expect(languageOf(path)).toBe(lang);
  });
});

describe("tokenize", () => {
  it("splits a line into the grammar's tokens whose texts join to the line exactly", () => {
    const line = '  "grants": [{"principal": "all-employees", "read": true, "n": 3}],';
    const tokens = tokenize(line, "json");
    expect(tokens.map((t) => t.text).join("")).toBe(line);
    const cls = (text: string) => tokens.find((t) => t.text === text)?.cls;
    expect(cls('"grants"')).toBe("syn-property");
    expect(cls('"all-employees"')).toBe("syn-string");
    expect(cls("true")).toBe("syn-boolean");
    expect(cls("3")).toBe("syn-number");
  });

  it("leaves text plain without a grammar, past the length limit, or for an unknown grammar", () => {
    expect(tokenize("let x = 1;", null)).toEqual([{ text: "let x = 1;", cls: null }]);
    expect(tokenize("x".repeat(HIGHLIGHT_MAX + 1), "rust")).toHaveLength(1);
    expect(tokenize("let x = 1;", "klingon")).toEqual([{ text: "let x = 1;", cls: null }]);
  });
});

describe("highlighted diff lines", () => {
  const diff = (text: string): TextDiff => ({
    added: 1,
    removed: 0,
    hunks: [{ header: "@@ -0,0 +1 @@", lines: [{ tag: "added", old_line: null, new_line: 1, segments: [{ text }] }] }],
  });

  it("render tokens as spans around text: markup in the draft stays text", () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const { container } = render(<TextDiffView diff={diff(hostile)} lang="markup" />);
    const cell = container.querySelector(".diff-text")!;
    expect(cell.textContent).toBe(hostile);
    expect(cell.querySelectorAll("img, script"), "no element from the draft").toHaveLength(0);
    expect(cell.querySelector(".syn-tag"), "the tag is highlighted as a token").not.toBeNull();
  });

  it("keep hidden characters visible as badges inside a token", () => {
    const { container } = render(<TextDiffView diff={diff('  "role": "ad\u200Bmin",')} lang="json" />);
    const str = [...container.querySelectorAll(".syn-string")].find((s) => s.textContent?.includes("ad"));
    expect(str, "the value is a string token").toBeDefined();
    expect(str!.querySelector(".hidden-char"), "the zero-width space is a badge inside it").not.toBeNull();
  });
});

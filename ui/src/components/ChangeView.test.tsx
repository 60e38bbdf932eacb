import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { PrincipalDiff } from "../bindings/PrincipalDiff";
import { grantFlags } from "../lib/grants";
import { detail, postDiff } from "../test/fixtures";
import { ChangeView } from "./ChangeView";
import { grantKey, PrincipalTable } from "./PrincipalTable";
import { TextDiffView } from "./TextDiffView";

const cells = (row: Element) => [...row.querySelectorAll("td")].map((td) => td.textContent);

describe("TextDiffView", () => {
  it("renders context, removed and added lines with both line numbers and a +/- gutter", () => {
    const { container } = render(<TextDiffView diff={postDiff} />);
    const rows = [...container.querySelectorAll("tr.diff-line")];
    expect(rows.map((r) => r.getAttribute("data-tag"))).toEqual(["context", "removed", "added"]);
    expect(cells(rows[0]!)).toEqual(["1", "1", " ", "Hi,"]);
    expect(cells(rows[1]!), "a removed line has only an old number").toEqual(["2", "", "-", "grant read to your team"]);
    expect(cells(rows[2]!), "an added line has only a new number").toEqual(["", "2", "+", "grant read to all-employees"]);
    expect(rows[1]!.classList.contains("diff-removed")).toBe(true);
    expect(rows[2]!.classList.contains("diff-added")).toBe(true);
    expect(container.querySelector(".diff-hunk-header")?.textContent).toBe("@@ -1,2 +1,2 @@");
    expect(screen.getByTestId("diff").querySelector(".diff-stats")?.textContent).toBe("+1 −1");
  });

  it("emphasizes exactly the changed words", () => {
    const { container } = render(<TextDiffView diff={postDiff} />);
    const emph = [...container.querySelectorAll("mark.diff-emph")].map((m) => [
      m.closest("tr")?.getAttribute("data-tag"),
      m.textContent,
    ]);
    expect(emph).toEqual([
      ["removed", "your team"],
      ["added", "all-employees"],
    ]);
  });

  it("shows hidden characters inside diff segments as badges", () => {
    const diff = {
      added: 1,
      removed: 0,
      hunks: [
        {
          header: "@@ -0,0 +1 @@",
          lines: [{ tag: "added" as const, old_line: null, new_line: 1, segments: [{ text: "ok\u200Bok", emphasized: false }] }],
        },
      ],
    };
    const { container } = render(<TextDiffView diff={diff} />);
    expect(container.querySelector<HTMLElement>(".diff-text .hidden-char")?.dataset.codepoint).toBe("U+200B");
  });

  it("says so when nothing changes", () => {
    render(<TextDiffView diff={{ hunks: [], added: 0, removed: 0 }} />);
    expect(screen.getByTestId("diff").textContent).toContain("No changes");
  });

  it("notes a text change whose current content is unknown", () => {
    const { rerender } = render(
      <ChangeView change={{ type: "text", label: "new post in eng-help", diff: postDiff, before_known: false }} />,
    );
    expect(screen.getByText("No current content given; shown as new.")).toBeTruthy();
    rerender(<ChangeView change={{ type: "text", label: "edited post", diff: postDiff, before_known: true }} />);
    expect(screen.queryByText(/No current content given/)).toBeNull();
  });
});

const acl: PrincipalDiff = {
  resource: "analytics.user_data",
  gained: [
    { principal: "all-employees", permission: "read" },
    { principal: "user:ana@example.com", permission: "write" },
  ],
  lost: [{ principal: "team:data-eng", permission: "admin" }],
  kept: [{ principal: "role:dba", permission: "admin" }],
  before_known: true,
};

describe("PrincipalTable", () => {
  it("lists who gains, loses and keeps access with their permissions", () => {
    render(<PrincipalTable diff={acl} />);
    const text = (id: string) => screen.queryAllByTestId(id).map((r) => cells(r).slice(0, 2));
    expect(text("grant-gained")).toEqual([
      ["all-employees", "read"],
      ["user:ana@example.com", "write"],
    ]);
    expect(text("grant-lost")).toEqual([["team:data-eng", "admin"]]);
    expect(text("grant-kept")).toEqual([["role:dba", "admin"]]);
    expect(screen.getAllByTestId("grant-gained")[0]!.querySelector("th")?.textContent).toContain("Gains access");
    expect(screen.getByTestId("grant-lost").querySelector("th")?.textContent).toContain("Loses access");
  });

  it("flags a gained broad group with a warning marker and says why", () => {
    const flags = new Map([[grantKey({ principal: "all-employees", permission: "read" }), ["broad group +45"]]]);
    render(<PrincipalTable diff={acl} flags={flags} />);
    const [broad, narrow] = screen.getAllByTestId("grant-gained");
    expect(broad!.getAttribute("data-flagged")).toBe("true");
    expect(within(broad!).getByText(/broad group \+45/).closest(".warn-marker")?.textContent).toContain("⚠");
    expect(narrow!.getAttribute("data-flagged"), "an individual user is not flagged").toBeNull();
  });

  it("derives the flags from risk factors that point at grants", () => {
    const d = detail(
      { kind: "acl.change" },
      {
        action: {
          kind: "acl.change",
          target: "db://analytics",
          summary: "share",
          payload: { resource: "analytics.user_data", grants: [acl.kept[0]!, ...acl.gained] },
        },
        risk: {
          score: 80,
          level: "critical",
          factors: [
            { id: "access.broad_principal", points: 45, reason: "grants read on x to `all-employees`", pointer: "/payload/grants/1" },
            { id: "access.sensitive_resource", points: 20, reason: "looks sensitive", pointer: "/payload/resource" },
          ],
        },
        review: { change: { type: "principals", diff: acl }, impact: [] },
      },
    );
    const flags = grantFlags(d);
    expect([...flags.entries()]).toEqual([[grantKey({ principal: "all-employees", permission: "read" }), ["broad group +45"]]]);
  });

  it("notes when the current grants were not given", () => {
    render(<PrincipalTable diff={{ ...acl, before_known: false }} />);
    expect(screen.getByText(/No current grants given/)).toBeTruthy();
  });
});

describe("command and request changes", () => {
  it("shows each argv element in its own numbered box, keeping spaces and empties distinct", () => {
    render(
      <ChangeView
        change={{ type: "command", argv: ["rm", "-rf", "/tmp/a b", ""], script: null, cwd: "/srv", env: ["A=1"] }}
      />,
    );
    const items = screen.getAllByTestId("argv-item");
    expect(items.map((i) => [i.querySelector(".argv-index")?.textContent, i.querySelector(".argv-box")?.textContent])).toEqual([
      ["0", "rm"],
      ["1", "-rf"],
      ["2", "/tmp/a b"],
      ["3", ""],
    ]);
    expect(items[3]!.querySelector(".argv-empty")).not.toBeNull();
    expect(screen.getByText("/srv")).toBeTruthy();
    expect(screen.getByText("A=1")).toBeTruthy();
  });

  it("shows a script verbatim with hidden characters revealed", () => {
    render(<ChangeView change={{ type: "command", argv: null, script: "echo hi\u001B[2K\nrm x", cwd: null, env: [] }} />);
    const script = screen.getByTestId("script");
    expect(script.textContent, "the whole ANSI sequence is one badge").toBe("echo hi⟨ANSI ESC[2K⟩\nrm x");
    expect(screen.queryByTestId("argv-item")).toBeNull();
  });

  it("shows method, URL, headers and body of a request", () => {
    render(
      <ChangeView
        change={{ type: "request", method: "POST", url: "https://api.example.com/x", headers: ["Authorization: Bearer t"], body: '{"a":1}' }}
      />,
    );
    const diff = screen.getByTestId("diff");
    expect(diff.querySelector(".method")?.textContent).toBe("POST");
    expect(diff.querySelector(".url")?.textContent).toBe("https://api.example.com/x");
    expect(within(diff).getByText("Authorization: Bearer t")).toBeTruthy();
    expect(diff.querySelector("pre")?.textContent).toBe('{"a":1}');
  });
});

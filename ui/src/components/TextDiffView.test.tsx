import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { budgetHunks, foldContext, splitRows } from "../lib/diffview";
import { postDiff } from "../test/fixtures";
import { TextDiffView } from "./TextDiffView";

const ctx = (n: number): DiffLine => ({ tag: "context", old_line: n, new_line: n, segments: [{ text: `line ${n}`, emphasized: false }] });
const del = (n: number, text = `old ${n}`): DiffLine => ({ tag: "removed", old_line: n, new_line: null, segments: [{ text, emphasized: false }] });
const add = (n: number, text = `new ${n}`): DiffLine => ({ tag: "added", old_line: null, new_line: n, segments: [{ text, emphasized: false }] });

describe("side-by-side rows", () => {
  it("pairs a removed run with the added run after it, context on both sides", () => {
    const rows = splitRows([ctx(1), del(2), del(3), add(2), ctx(4), add(5)]);
    const show = (l: DiffLine | null) => (l ? l.segments[0]!.text : "·");
    expect(rows.map((r) => `${show(r.left)} | ${show(r.right)}`)).toEqual([
      "line 1 | line 1",
      "old 2 | new 2",
      "old 3 | ·",
      "line 4 | line 4",
      "· | new 5",
    ]);
  });

  it("renders the old text left and the new text right when switched", async () => {
    const user = userEvent.setup();
    const { container } = render(<TextDiffView diff={postDiff} />);
    await user.click(screen.getByTestId("diff-mode-split"));
    expect(screen.getByTestId("diff").dataset.mode).toBe("split");
    const rows = screen.getAllByTestId("diff-split-row");
    expect(rows).toHaveLength(2);
    const texts = (r: Element) => [...r.querySelectorAll(".diff-text")].map((t) => t.textContent);
    expect(texts(rows[0]!)).toEqual(["Hi,", "Hi,"]);
    expect(texts(rows[1]!)).toEqual(["grant read to your team", "grant read to all-employees"]);
    expect(container.querySelectorAll("mark.diff-emph")).toHaveLength(2);
    await user.click(screen.getByTestId("diff-mode-unified"));
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(3);
  });
});

describe("long diffs", () => {
  const longRun: DiffLine[] = [del(1), ...Array.from({ length: 40 }, (_, i) => ctx(i + 2)), add(42), ctx(43)];

  it("folds a long unchanged run to three lines each side of the changes, never a changed line", () => {
    const folded = foldContext(longRun, "h");
    expect(folded.filter((f) => f.type === "fold").map((f) => (f.type === "fold" ? f.lines.length : 0))).toEqual([34]);
    const shown = folded.flatMap((f) => (f.type === "line" ? [f.line.tag] : []));
    expect(shown.filter((t) => t !== "context")).toEqual(["removed", "added"]);
  });

  it("shows a fold as a row that expands on click", async () => {
    const user = userEvent.setup();
    const diff: TextDiff = { added: 1, removed: 1, hunks: [{ header: "@@ -1,42 +1,42 @@", lines: longRun }] };
    const { container } = render(<TextDiffView diff={diff} />);
    expect(screen.getByTestId("diff-fold").textContent).toBe("⋯ 34 unchanged lines");
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(longRun.length - 34);
    await user.click(screen.getByTestId("diff-fold"));
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(longRun.length);
  });

  it("shows the first hunks of a huge diff and counts the changes in the rest", async () => {
    const hunk = (i: number) => ({ header: `@@ ${i} @@`, lines: Array.from({ length: 20 }, (_, k) => add(i * 20 + k)) });
    const diff: TextDiff = { added: 200, removed: 0, hunks: Array.from({ length: 10 }, (_, i) => hunk(i)) };
    expect(budgetHunks(diff.hunks, 80)).toEqual({ shown: 4, restLines: 120, restAdded: 120, restRemoved: 0 });
    const user = userEvent.setup();
    const { container } = render(<TextDiffView diff={diff} lineBudget={80} />);
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(80);
    expect(container.querySelector(".diff-more")!.textContent).toContain("6 more hunks (120 lines: +120 −0)");
    await user.click(screen.getByTestId("diff-show-all"));
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(200);
  });
});

describe("a 5 MiB diff", () => {
  it("renders only its first 2,000 lines, quickly, and counts the rest", () => {
    // 100,000 changed lines of ~52 bytes each: about 5 MiB of new text.
    const lines = Array.from({ length: 100_000 }, (_, i) => add(i + 1, `${String(i).padStart(8, "0")} ${"x".repeat(42)}`));
    const diff: TextDiff = {
      added: lines.length,
      removed: 0,
      hunks: Array.from({ length: 1000 }, (_, h) => ({ header: `@@ ${h} @@`, lines: lines.slice(h * 100, h * 100 + 100) })),
    };
    const started = performance.now();
    const { container } = render(<TextDiffView diff={diff} />);
    const ms = performance.now() - started;
    console.info(`5 MiB diff (100,000 lines) shown in ${ms.toFixed(0)} ms (jsdom; 2,000 lines in the DOM)`);
    expect(container.querySelectorAll("tr.diff-line")).toHaveLength(2000);
    expect(container.querySelector(".diff-more")!.textContent).toContain("+98000");
  }, 60_000);
});

import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { diffRows, foldRanges, ROW_HEIGHT, splitRows, VIRTUALISE_ABOVE } from "../lib/diffview";
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
    expect(foldRanges(longRun, "h"), "lines 4–37 of the 40 context lines fold").toEqual([{ key: "h:1", start: 4, end: 38 }]);
    const rows = diffRows([{ header: "@@", lines: longRun }], "unified", new Set());
    expect(rows.filter((r) => r.type === "fold").map((r) => (r.type === "fold" ? r.count : 0))).toEqual([34]);
    const shown = rows.flatMap((r) => (r.type === "line" ? [r.line.tag] : []));
    expect(shown.filter((t) => t !== "context")).toEqual(["removed", "added"]);
    const opened = diffRows([{ header: "@@", lines: longRun }], "unified", new Set(["0:1"]));
    expect(opened.filter((r) => r.type === "line"), "an opened fold shows every line").toHaveLength(longRun.length);
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

  it("keeps only the rows in view of a huge diff in the DOM, and shows later ones as it scrolls", () => {
    const hunk = (i: number) => ({ header: `@@ ${i} @@`, lines: Array.from({ length: 200 }, (_, k) => add(i * 200 + k + 1)) });
    const diff: TextDiff = { added: 2000, removed: 0, hunks: Array.from({ length: 10 }, (_, i) => hunk(i)) };
    const { container } = render(<TextDiffView diff={diff} />);
    expect(Number(screen.getByTestId("diff").dataset.rows), "2,000 lines and 10 headers").toBe(2010);
    const scroller = screen.getByTestId("diff-scroll");
    const shown = () => [...container.querySelectorAll("tr.diff-line")].map((r) => Number(r.querySelector(".diff-num-new")!.textContent));
    expect(shown().length, "a window of rows, not all 2,010").toBeLessThan(100);
    expect(shown()[0]).toBe(1);
    // The spacers keep the full height, so the scroll bar is that of the whole diff.
    const spacer = container.querySelector<HTMLElement>("tr.diff-spacer")!;
    expect(parseFloat(spacer.style.height)).toBe((2010 - container.querySelectorAll("tbody > tr:not(.diff-spacer)").length) * ROW_HEIGHT);
    // Scroll to the end: the last line is there, the first is gone.
    scroller.scrollTop = 2010 * ROW_HEIGHT;
    fireEvent.scroll(scroller);
    expect(shown()).toContain(2000);
    expect(shown()).not.toContain(1);
    // Half-way down: the sixth hunk's header (row 5 × 201) is in view.
    scroller.scrollTop = 5 * 201 * ROW_HEIGHT;
    fireEvent.scroll(scroller);
    expect([...container.querySelectorAll(".diff-hunk-header")].map((h) => h.textContent)).toContain("@@ 5 @@");
  });

  it("virtualises side by side too, and renders a small diff whole", async () => {
    const user = userEvent.setup();
    const lines = Array.from({ length: VIRTUALISE_ABOVE }, (_, k) => [del(k + 1), add(k + 1)]).flat();
    render(<TextDiffView diff={{ added: VIRTUALISE_ABOVE, removed: VIRTUALISE_ABOVE, hunks: [{ header: "@@", lines }] }} />);
    await user.click(screen.getByTestId("diff-mode-split"));
    expect(Number(screen.getByTestId("diff").dataset.rows), "each removed line faces its added line").toBe(VIRTUALISE_ABOVE + 1);
    const rows = screen.getAllByTestId("diff-split-row");
    expect(rows.length).toBeLessThan(100);
    expect([...rows[0]!.querySelectorAll(".diff-text")].map((t) => t.textContent)).toEqual(["old 1", "new 1"]);
    expect(screen.getByTestId("diff").dataset.virtual).toBe("true");
    // A short diff: every row, no scroll box of its own.
    const small = render(<TextDiffView diff={postDiff} />);
    expect(small.container.querySelector('[data-testid="diff-scroll"]')).toBeNull();
    expect(small.container.querySelectorAll("tr.diff-line")).toHaveLength(3);
  });
});

describe("a 5 MiB diff", () => {
  // 100,000 changed lines of ~52 bytes each: about 5 MiB of new text.
  const lines = Array.from({ length: 100_000 }, (_, i) => add(i + 1, `${String(i).padStart(8, "0")} ${"x".repeat(42)}`));

  it.each([
    ["a new file (one hunk)", [{ header: "@@ -0,0 +1,100000 @@", lines }]],
    ["1,000 hunks", Array.from({ length: 1000 }, (_, h) => ({ header: `@@ ${h} @@`, lines: lines.slice(h * 100, h * 100 + 100) }))],
  ])("is shown at once, only the rows in view in the DOM: %s", (name, hunks) => {
    const diff: TextDiff = { added: lines.length, removed: 0, hunks };
    const started = performance.now();
    const { container } = render(<TextDiffView diff={diff} />);
    const ms = performance.now() - started;
    console.info(`5 MiB diff (100,000 lines, ${name}) shown in ${ms.toFixed(0)} ms (jsdom; ${container.querySelectorAll("tr.diff-line").length} rows in the DOM)`);
    expect(container.querySelectorAll("tr.diff-line").length).toBeGreaterThan(10);
    expect(container.querySelectorAll("tr.diff-line").length).toBeLessThan(100);
    expect(screen.getByTestId("diff").querySelector(".diff-stats")!.textContent).toBe("+100000 −0");
    expect(ms, "a generous sanity bound; the figure is what counts").toBeLessThan(10_000);
  }, 60_000);
});

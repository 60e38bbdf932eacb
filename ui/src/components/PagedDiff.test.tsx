import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { layoutHunks, PAGE_LINES, ROW_HEIGHT } from "../lib/diffview";
import { TextDiffView } from "./TextDiffView";

const N = 100_000;
const text = (n: number) => `let value_${n} = compute(${n});`;

/** A new file of N lines as Rust outlines it: one hunk, every line added, no text. */
const outlined: TextDiff = {
  added: N,
  removed: 0,
  hunks: [{ header: `@@ -0,0 +1,${N} @@`, lines: [] }],
  outline: [{ first: 0, old_start: 0, new_start: 1, tags: "+".repeat(N) }],
};

/** The lines Rust keeps, and a fetcher over them that records every request. */
function server(fail?: (from: number) => boolean) {
  const calls: [number, number][] = [];
  const fetchLines = (from: number, to: number): Promise<DiffLine[]> => {
    calls.push([from, to]);
    if (fail?.(from)) return Promise.reject({ code: "conflict", message: "draft x is no longer the action shown" });
    return Promise.resolve(
      Array.from({ length: to - from }, (_, k) => ({ tag: "added" as const, new_line: from + k + 1, old_line: null, segments: [{ text: text(from + k + 1) }] })),
    );
  };
  return { calls, fetchLines };
}

const shownTexts = (c: HTMLElement) => [...c.querySelectorAll("tr.diff-line .diff-text")].map((t) => t.textContent);

describe("an outlined diff (a large draft's lines fetched by page)", () => {
  it("lays out every line from the tags and numbers them as the full diff would", () => {
    const two: TextDiff = {
      added: 2,
      removed: 1,
      hunks: [
        { header: "@@ -3,3 +3,4 @@", lines: [] },
        { header: "@@ -20,1 +21,1 @@", lines: [] },
      ],
      outline: [
        { first: 0, old_start: 3, new_start: 3, tags: " -++ " },
        { first: 5, old_start: 20, new_start: 21, tags: " " },
      ],
    };
    const lines = layoutHunks(two).flatMap((h) => h.lines.map((l) => [l.tag, l.old_line, l.new_line]));
    expect(lines).toEqual([
      ["context", 3, 3],
      ["removed", 4, null],
      ["added", null, 4],
      ["added", null, 5],
      ["context", 5, 6],
      ["context", 20, 21],
    ]);
  });

  it("fetches only the page in view, shows it, then the page scrolled to", async () => {
    const { calls, fetchLines } = server();
    const { container } = render(<TextDiffView diff={outlined} fetchLines={fetchLines} />);
    expect(screen.getByTestId("diff").dataset.rows, "every line is a row from the start").toBe(String(N + 1));
    await waitFor(() => expect(shownTexts(container)[0]).toBe(text(1)));
    expect(calls, "one request: the first page").toEqual([[0, PAGE_LINES]]);
    expect(container.querySelectorAll("tr.diff-pending"), "nothing left waiting in view").toHaveLength(0);

    const scroll = screen.getByTestId("diff-scroll");
    act(() => {
      scroll.scrollTop = (N - 10) * ROW_HEIGHT;
      fireEvent.scroll(scroll);
    });
    expect(container.querySelector("tr.diff-pending .diff-num-new")?.textContent, "a row waiting for its text still shows its number").toMatch(/^\d+$/);
    await waitFor(() => expect(shownTexts(container)).toContain(text(N)));
    expect(calls.at(-1), "the last page").toEqual([N - (N % PAGE_LINES || PAGE_LINES), N]);
    expect(calls.length, "only the pages in view were fetched").toBeLessThanOrEqual(3);
  });

  it("says which lines failed to load instead of showing them empty", async () => {
    const { fetchLines } = server(() => true);
    const { container } = render(<TextDiffView diff={outlined} fetchLines={fetchLines} />);
    const error = await screen.findByTestId("diff-page-error");
    expect(error.textContent).toContain(`lines 1–${PAGE_LINES} could not be loaded: draft x is no longer the action shown`);
    expect(container.querySelectorAll("tr.diff-line"), "no line is drawn without its text").toHaveLength(0);
    expect(container.querySelectorAll("tr.diff-pending").length).toBeGreaterThan(10);
  });

  it("without a fetcher (a view that cannot page), says so", async () => {
    render(<TextDiffView diff={outlined} />);
    expect((await screen.findByTestId("diff-page-error")).textContent).toContain("cannot be fetched here");
  });

  it("shows a located span far below: fetches that page and marks it", async () => {
    const { fetchLines } = server();
    const { container, rerender } = render(<TextDiffView diff={outlined} fetchLines={fetchLines} />);
    await waitFor(() => expect(shownTexts(container)[0]).toBe(text(1)));
    rerender(<TextDiffView diff={outlined} fetchLines={fetchLines} focus={{ line: 98_766, start: 4, end: 15, n: 1 }} />);
    await waitFor(() => expect(container.querySelector("[data-testid='diff-spot']")?.textContent).toBe("value_98766"));
  });
});

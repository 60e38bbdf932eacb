import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useRef } from "react";
import { describe, expect, it, vi } from "vitest";
import type { DiffLine } from "../bindings/DiffLine";
import type { Review } from "../bindings/Review";
import type { Risk } from "../bindings/Risk";
import type { TextDiff } from "../bindings/TextDiff";
import { bestPointer, LOCATED_MS, useLocate, type DiffFocus } from "../lib/locate";
import { CommandView } from "./CommandView";
import { RiskPanel } from "./RiskPanel";
import { TextDiffView } from "./TextDiffView";

const line = (tag: DiffLine["tag"], n: number, ...segments: [string, boolean?][]): DiffLine => ({
  tag,
  old_line: tag === "added" ? null : n,
  new_line: tag === "removed" ? null : n,
  segments: segments.map(([text, emphasized]) => ({ text, emphasized: emphasized ?? false })),
});

const focus = (l: number, start: number, end: number, n = 1): DiffFocus => ({ line: l, start, end, n });

describe("bestPointer", () => {
  it("prefers the same pointer, then the longest one containing it, never a mere prefix of a name", () => {
    const shown = ["/payload", "/payload/argv", "/payload/argv/2", "/summary"];
    expect(bestPointer("/payload/argv/2", shown)).toBe("/payload/argv/2");
    expect(bestPointer("/payload/argv/3", shown)).toBe("/payload/argv");
    expect(bestPointer("/payload/argvx", shown), "`/payload/argv` does not contain `/payload/argvx`").toBe("/payload");
    expect(bestPointer("/target", shown)).toBeNull();
  });
});

describe("a located span in a text diff", () => {
  it("marks exactly the fired columns, across an emphasised segment, and only on that line", () => {
    const diff: TextDiff = {
      added: 1,
      removed: 1,
      hunks: [
        {
          header: "@@ -1,2 +1,2 @@",
          lines: [line("context", 1, ["Hi,"]), line("removed", 2, ["key: none"]), line("added", 2, ["key: ", false], ["AKIA1234", true], [" ok"])],
        },
      ],
    };
    const { container } = render(<TextDiffView diff={diff} focus={focus(2, 3, 9)} />);
    const spots = [...container.querySelectorAll("[data-testid='diff-spot']")];
    expect(spots, "one mark per segment the span covers").toHaveLength(2);
    expect(spots.map((m) => m.textContent).join(""), "columns 3–9 of `key: AKIA1234 ok`").toBe(": AKIA");
    expect(spots[1]!.querySelector("mark.diff-emph")?.textContent, "the changed word keeps its emphasis").toBe("AKIA");
    const row = container.querySelector("tr[data-located]")!;
    expect(row.getAttribute("data-tag"), "the new line, not the removed one with the same number").toBe("added");
    expect(row.querySelector(".diff-text")!.textContent, "the line still reads whole").toBe("key: AKIA1234 ok");
  });

  it("opens the fold that hides the line", () => {
    const lines = [line("removed", 1, ["gone"]), ...Array.from({ length: 40 }, (_, i) => line("context", i + 1, [`line ${i + 1}`])), line("added", 41, ["new"])];
    const diff: TextDiff = { added: 1, removed: 1, hunks: [{ header: "@@", lines }] };
    const { container, rerender } = render(<TextDiffView diff={diff} />);
    expect(screen.getByTestId("diff-fold")).toBeTruthy();
    rerender(<TextDiffView diff={diff} focus={focus(20, 0, 4)} />);
    expect(screen.queryByTestId("diff-fold"), "the fold holding line 20 opened").toBeNull();
    expect(container.querySelector("tr[data-located] .diff-text")!.textContent).toBe("line 20");
    expect(container.querySelector("[data-testid='diff-spot']")!.textContent).toBe("line");
  });

  it("scrolls a virtualised diff to a line far below and renders it marked", () => {
    const n = 20_000;
    const lines = Array.from({ length: n }, (_, i) => line("added", i + 1, [`value ${i + 1}`]));
    const diff: TextDiff = { added: n, removed: 0, hunks: [{ header: "@@ -0,0 +1,20000 @@", lines }] };
    const { container, rerender } = render(<TextDiffView diff={diff} />);
    expect(container.querySelector("tr[data-located]")).toBeNull();
    rerender(<TextDiffView diff={diff} focus={focus(17_500, 6, 11)} />);
    expect(container.querySelector("tr[data-located] .diff-text")!.textContent).toBe("value 17500");
    expect(container.querySelector("[data-testid='diff-spot']")!.textContent).toBe("17500");
    expect(container.querySelectorAll("tr.diff-line").length, "still only a window of rows").toBeLessThan(200);
  });

  it("marks where a whole value starts with an empty marker", () => {
    const diff: TextDiff = { added: 1, removed: 0, hunks: [{ header: "@@", lines: [line("added", 1, ['  "to": "x@evil.io"'])] }] };
    const { container } = render(<TextDiffView diff={diff} focus={focus(1, 8, 8)} />);
    const spot = container.querySelector("[data-testid='diff-spot']")!;
    expect(spot.textContent).toBe("");
    expect(spot.previousSibling?.textContent, "the marker sits before the value").toBe('  "to": ');
  });
});

/** A risk panel and a command, wired as the detail view wires them. */
function Harness({ risk, review }: { risk: Risk; review: Review }) {
  const root = useRef<HTMLElement>(null);
  const { locate } = useLocate(root, risk, review);
  return (
    <article ref={root}>
      <RiskPanel risk={risk} onLocate={locate} />
      <ul data-testid="impact">
        <li data-pointer="/payload/argv/2">Deletes /srv</li>
      </ul>
      <section data-testid="change" data-pointer="/payload">
        <CommandView argv={["rm", "-rf", "/srv"]} script={null} cwd={null} env={[]} />
      </section>
    </article>
  );
}

describe("show where, for a factor outside any diff", () => {
  it("outlines the argument it points at, then lets go", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
      const risk: Risk = {
        score: 60,
        level: "high",
        factors: [
          { id: "shell.delete", points: 40, reason: "deletes files", pointer: "/payload/argv/2" },
          { id: "shell.other", points: 20, reason: "something", pointer: "/payload/nothing/here" },
        ],
      };
      const review: Review = { change: { type: "command", argv: ["rm", "-rf", "/srv"], script: null, cwd: null, env: [] }, impact: [] };
      render(<Harness risk={risk} review={review} />);
      const [first, second] = screen.getAllByTestId("factor-locate");
      await user.click(first!);
      const located = document.querySelectorAll(".located");
      expect(located).toHaveLength(1);
      expect(located[0]!.getAttribute("data-pointer")).toBe("/payload/argv/2");
      expect(located[0]!.closest("[data-testid='change']"), "the change's own element, not the impact line before it").not.toBeNull();
      expect(located[0]!.textContent).toContain("/srv");
      await act(async () => {
        vi.advanceTimersByTime(LOCATED_MS + 10);
      });
      expect(document.querySelectorAll(".located"), "the highlight fades").toHaveLength(0);
      await user.click(second!);
      expect(document.querySelector(".located")?.getAttribute("data-testid"), "no closer field: the change panel").toBe("change");
    } finally {
      vi.useRealTimers();
    }
  });
});

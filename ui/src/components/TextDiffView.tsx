import { Fragment, useState } from "react";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { budgetHunks, foldContext, LINE_BUDGET, splitRows } from "../lib/diffview";
import { SafeText } from "./SafeText";

const GUTTER = { added: "+", removed: "-", context: " " } as const;

function Segments({ line }: { line: DiffLine }) {
  return (
    <>
      {line.segments.map((s, i) =>
        s.emphasized ? (
          <mark key={i} className="diff-emph">
            <SafeText text={s.text} />
          </mark>
        ) : (
          <SafeText key={i} text={s.text} />
        ),
      )}
    </>
  );
}

function Line({ line }: { line: DiffLine }) {
  return (
    <tr className={`diff-line diff-${line.tag}`} data-tag={line.tag}>
      <td className="diff-num diff-num-old">{line.old_line ?? ""}</td>
      <td className="diff-num diff-num-new">{line.new_line ?? ""}</td>
      <td className="diff-gutter" aria-label={line.tag}>
        {GUTTER[line.tag]}
      </td>
      <td className="diff-text">
        <Segments line={line} />
      </td>
    </tr>
  );
}

/** One side of a side-by-side row; an empty cell where the other side has no counterpart. */
function Half({ line, side }: { line: DiffLine | null; side: "old" | "new" }) {
  if (!line) return <td className="diff-empty" colSpan={3} />;
  const tag = line.tag;
  return (
    <>
      <td className="diff-num">{side === "old" ? line.old_line : line.new_line}</td>
      <td className={`diff-gutter diff-${tag}`} aria-label={tag}>
        {GUTTER[tag]}
      </td>
      <td className={`diff-text diff-${tag}`} data-tag={tag}>
        <Segments line={line} />
      </td>
    </>
  );
}

type Mode = "unified" | "split";

/**
 * A text diff, unified (old and new line numbers, a `+`/`-` gutter so the change reads without
 * colour) or side by side (old left, new right, replacements across). Changed words are
 * emphasized. Long unchanged runs fold to a "n unchanged lines" row; a very long diff shows its
 * first hunks and says how many changed lines the rest holds, never hiding them silently.
 */
export function TextDiffView({ diff, lineBudget = LINE_BUDGET }: { diff: TextDiff; lineBudget?: number }) {
  const [mode, setMode] = useState<Mode>("unified");
  const [opened, setOpened] = useState<ReadonlySet<string>>(new Set());
  const [all, setAll] = useState(false);
  const budget = budgetHunks(diff.hunks, all ? Number.POSITIVE_INFINITY : lineBudget);
  const hunks = diff.hunks.slice(0, budget.shown);
  const cols = mode === "unified" ? 4 : 6;

  const rowsOf = (lines: DiffLine[], key: string) =>
    foldContext(lines, key).map((f, i) => {
      if (f.type === "fold" && !opened.has(f.key)) {
        return (
          <tr key={f.key} className="diff-fold">
            <td colSpan={cols}>
              <button
                type="button"
                className="btn btn-ghost btn-small"
                data-testid="diff-fold"
                onClick={() => setOpened(new Set([...opened, f.key]))}
              >
                ⋯ {f.lines.length} unchanged lines
              </button>
            </td>
          </tr>
        );
      }
      const lines = f.type === "fold" ? f.lines : [f.line];
      if (mode === "unified") return lines.map((l, k) => <Line key={`${i}.${k}`} line={l} />);
      return (
        <Fragment key={i}>
          {splitRows(lines).map((r, k) => (
            <tr key={k} className="diff-split-row" data-testid="diff-split-row">
              <Half line={r.left} side="old" />
              <Half line={r.right} side="new" />
            </tr>
          ))}
        </Fragment>
      );
    });

  // Side by side pairs removed/added runs, so a whole unfolded hunk is paired at once.
  const hunkBody = (lines: DiffLine[], key: string) => {
    if (mode === "unified") return rowsOf(lines, key);
    const folded = foldContext(lines, key);
    if (folded.every((f) => f.type === "line" || opened.has(f.key))) {
      return splitRows(lines).map((r, k) => (
        <tr key={k} className="diff-split-row" data-testid="diff-split-row">
          <Half line={r.left} side="old" />
          <Half line={r.right} side="new" />
        </tr>
      ));
    }
    return rowsOf(lines, key);
  };

  return (
    <div className="diff" data-testid="diff" data-mode={mode}>
      <div className="diff-toolbar">
        <div className="diff-stats">
          <span className="diff-stat-added">+{diff.added}</span>{" "}
          <span className="diff-stat-removed">−{diff.removed}</span>
        </div>
        <span className="diff-modes" role="group" aria-label="Diff layout">
          <button
            type="button"
            className={mode === "unified" ? "btn btn-small is-active" : "btn btn-ghost btn-small"}
            aria-pressed={mode === "unified"}
            data-testid="diff-mode-unified"
            onClick={() => setMode("unified")}
          >
            Unified
          </button>
          <button
            type="button"
            className={mode === "split" ? "btn btn-small is-active" : "btn btn-ghost btn-small"}
            aria-pressed={mode === "split"}
            data-testid="diff-mode-split"
            onClick={() => setMode("split")}
          >
            Side by side
          </button>
        </span>
      </div>
      {diff.hunks.length === 0 ? (
        <p className="empty">No changes: the new text equals the current text.</p>
      ) : (
        <table className={mode === "unified" ? "diff-table" : "diff-table diff-split"}>
          {hunks.map((h, hi) => (
            <tbody key={hi}>
              <tr className="diff-hunk-header">
                <td colSpan={cols}>
                  <SafeText text={h.header} />
                </td>
              </tr>
              {hunkBody(h.lines, String(hi))}
            </tbody>
          ))}
        </table>
      )}
      {budget.shown < diff.hunks.length && (
        <p className="note warn diff-more">
          {diff.hunks.length - budget.shown} more hunks ({budget.restLines} lines: +{budget.restAdded} −{budget.restRemoved})
          are not shown yet.{" "}
          <button type="button" className="btn btn-small" data-testid="diff-show-all" onClick={() => setAll(true)}>
            Show all
          </button>
        </p>
      )}
    </div>
  );
}

import type { DiffLine } from "../bindings/DiffLine";
import type { Hunk } from "../bindings/Hunk";

/** One row of a side-by-side diff: the old line on the left, the new one on the right. */
export type SplitRow = { left: DiffLine | null; right: DiffLine | null };

/**
 * Pairs a hunk's lines for a side-by-side view: context lines sit on both sides; a run of
 * removed lines and the run of added lines after it are paired in order (a replacement reads
 * across), the longer run's extra lines facing an empty cell.
 */
export function splitRows(lines: readonly DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  let removed: DiffLine[] = [];
  let added: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      rows.push({ left: removed[i] ?? null, right: added[i] ?? null });
    }
    removed = [];
    added = [];
  };
  for (const l of lines) {
    if (l.tag === "removed") {
      if (added.length > 0) flush();
      removed.push(l);
    } else if (l.tag === "added") {
      added.push(l);
    } else {
      flush();
      rows.push({ left: l, right: l });
    }
  }
  flush();
  return rows;
}

/** Unchanged lines kept next to a change when a long unchanged run is folded. */
export const FOLD_CONTEXT = 3;

/** A hunk's lines with long unchanged runs folded: a line, or a fold of `count` lines. */
export type Folded = { type: "line"; line: DiffLine } | { type: "fold"; key: string; lines: DiffLine[] };

/**
 * Folds every run of context lines longer than `2 × FOLD_CONTEXT + 1` down to `FOLD_CONTEXT`
 * lines on each side of the changes (the whole run at a hunk's edge keeps only the side next to
 * a change). Changed lines are never folded.
 */
export function foldContext(lines: readonly DiffLine[], keyPrefix: string): Folded[] {
  const out: Folded[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.tag !== "context") {
      out.push({ type: "line", line: lines[i]! });
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && lines[j]!.tag === "context") j++;
    const run = lines.slice(i, j);
    const keepBefore = i === 0 ? 0 : FOLD_CONTEXT;
    const keepAfter = j === lines.length ? 0 : FOLD_CONTEXT;
    if (run.length > keepBefore + keepAfter + 1) {
      for (const l of run.slice(0, keepBefore)) out.push({ type: "line", line: l });
      out.push({ type: "fold", key: `${keyPrefix}:${i}`, lines: run.slice(keepBefore, run.length - keepAfter) });
      for (const l of run.slice(run.length - keepAfter)) out.push({ type: "line", line: l });
    } else {
      for (const l of run) out.push({ type: "line", line: l });
    }
    i = j;
  }
  return out;
}

/** Lines shown before "show more" when a diff is very long (keeps a 5 MiB payload responsive). */
export const LINE_BUDGET = 2000;

/** How many hunks fit in `budget` lines (at least one), and what the rest hold. */
export function budgetHunks(hunks: readonly Hunk[], budget: number): { shown: number; restLines: number; restAdded: number; restRemoved: number } {
  let used = 0;
  let shown = 0;
  while (shown < hunks.length && (shown === 0 || used + hunks[shown]!.lines.length <= budget)) {
    used += hunks[shown]!.lines.length;
    shown++;
  }
  let restLines = 0;
  let restAdded = 0;
  let restRemoved = 0;
  for (const h of hunks.slice(shown)) {
    restLines += h.lines.length;
    for (const l of h.lines) {
      if (l.tag === "added") restAdded++;
      else if (l.tag === "removed") restRemoved++;
    }
  }
  return { shown, restLines, restAdded, restRemoved };
}

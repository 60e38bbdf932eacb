import type { DiffLine } from "../bindings/DiffLine";
import type { Hunk } from "../bindings/Hunk";
import type { TextDiff } from "../bindings/TextDiff";

/** One row of a side-by-side diff: the old line on the left, the new one on the right. */
export type SplitRow = { left: DiffLine | null; right: DiffLine | null };

/**
 * Pairs a hunk's lines for a side-by-side view: context lines sit on both sides; a run of
 * removed lines and the run of added lines after it are paired in order (a replacement reads
 * across), the longer run's extra lines facing an empty cell.
 */
export function splitRows(lines: readonly DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  pairLines(lines, (left, right) => rows.push({ left, right }));
  return rows;
}

/** {@link splitRows} without the intermediate array: `emit` is called once per row, in order. */
function pairLines(lines: readonly DiffLine[], emit: (left: DiffLine | null, right: DiffLine | null) => void) {
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.tag === "context") {
      emit(l, l);
      i++;
      continue;
    }
    const removed = i;
    while (i < lines.length && lines[i]!.tag === "removed") i++;
    const added = i;
    while (i < lines.length && lines[i]!.tag === "added") i++;
    const nRemoved = added - removed;
    const nAdded = i - added;
    for (let k = 0; k < Math.max(nRemoved, nAdded); k++) {
      emit(k < nRemoved ? lines[removed + k]! : null, k < nAdded ? lines[added + k]! : null);
    }
  }
}

/** Unchanged lines kept next to a change when a long unchanged run is folded. */
export const FOLD_CONTEXT = 3;

/** One row of the diff table: a hunk header, a line (unified), a pair (side by side) or a fold. */
export type DiffRow =
  | { type: "header"; text: string }
  | { type: "line"; line: DiffLine }
  | { type: "split"; left: DiffLine | null; right: DiffLine | null }
  | { type: "fold"; key: string; count: number };

/**
 * The runs of a hunk's context lines that fold, as `[start, end)` line indexes: every run longer
 * than `2 × FOLD_CONTEXT + 1` keeps `FOLD_CONTEXT` lines on each side of the changes (a run at a
 * hunk's edge keeps only the side next to a change). Changed lines never fold. `key` names the
 * fold (`<keyPrefix>:<index of the run's first line>`) so that it stays open once opened.
 */
export function foldRanges(lines: readonly DiffLine[], keyPrefix: string): { key: string; start: number; end: number }[] {
  const out: { key: string; start: number; end: number }[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.tag !== "context") {
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && lines[j]!.tag === "context") j++;
    const keepBefore = i === 0 ? 0 : FOLD_CONTEXT;
    const keepAfter = j === lines.length ? 0 : FOLD_CONTEXT;
    if (j - i > keepBefore + keepAfter + 1) out.push({ key: `${keyPrefix}:${i}`, start: i + keepBefore, end: j - keepAfter });
    i = j;
  }
  return out;
}

/**
 * The rows of a whole diff, in order: each hunk's header, then its lines with the folds not in
 * `opened` as one row each. Side by side (`split`), a hunk with no closed fold pairs its removed
 * and added runs ({@link splitRows}); with a closed fold each line keeps its own row (context on
 * both sides). Rows only point at the diff's lines: no text is copied or parsed here, so the
 * rows of a 100,000-line diff are built in milliseconds and only the ones in view are rendered.
 */
export function diffRows(hunks: readonly Hunk[], mode: "unified" | "split", opened: ReadonlySet<string>): DiffRow[] {
  const rows: DiffRow[] = [];
  const one = (l: DiffLine): DiffRow =>
    mode === "unified"
      ? { type: "line", line: l }
      : { type: "split", left: l.tag === "added" ? null : l, right: l.tag === "removed" ? null : l };
  hunks.forEach((h, hi) => {
    rows.push({ type: "header", text: h.header });
    const folds = foldRanges(h.lines, String(hi));
    if (mode === "split" && folds.every((f) => opened.has(f.key))) {
      pairLines(h.lines, (left, right) => rows.push({ type: "split", left, right }));
      return;
    }
    let at = 0;
    for (const f of folds) {
      for (; at < f.start; at++) rows.push(one(h.lines[at]!));
      if (opened.has(f.key)) for (; at < f.end; at++) rows.push(one(h.lines[at]!));
      else rows.push({ type: "fold", key: f.key, count: f.end - f.start });
      at = f.end;
    }
    for (; at < h.lines.length; at++) rows.push(one(h.lines[at]!));
  });
  return rows;
}

/** Height of every row of a virtualised diff, in pixels (`.diff-virtual` in app.css). */
export const ROW_HEIGHT = 18;

/** Diffs with more rows than this render only the rows in view (and lines no longer wrap). */
export const VIRTUALISE_ABOVE = 1000;

/**
 * Indexes `[start, end)` of the rows of height `rowHeight` visible in `[scrollTop, scrollTop +
 * height)`, plus `overscan` rows each side, within `[0, count)`.
 */
export function rowWindow(count: number, rowHeight: number, scrollTop: number, height: number, overscan = 20): [number, number] {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + height) / rowHeight);
  return [Math.max(0, Math.min(count, first - overscan)), Math.min(count, last + overscan)];
}

/** A line of an outlined diff before its text is fetched: tag, numbers and its global index. */
export type StubLine = DiffLine & { index: number };

const NO_SEGMENTS: DiffLine["segments"] = [];

/**
 * The hunks of `diff` with lines to lay out: its own lines, or for an outlined diff (`outline`,
 * sent instead of the text of a large diff) one {@link StubLine} per line, numbered from each
 * hunk's starts as the tags say (context counts on both sides, `+` on the new, `-` on the old).
 */
export function layoutHunks(diff: TextDiff): Hunk[] {
  const outline = diff.outline;
  if (!outline) return diff.hunks;
  return outline.map((o, hi) => {
    let oldLine = o.old_start;
    let newLine = o.new_start;
    const lines: StubLine[] = new Array(o.tags.length);
    for (let i = 0; i < o.tags.length; i++) {
      const c = o.tags.charCodeAt(i);
      const index = o.first + i;
      if (c === 43 /* + */) lines[i] = { tag: "added", old_line: null, new_line: newLine++, segments: NO_SEGMENTS, index };
      else if (c === 45 /* - */) lines[i] = { tag: "removed", old_line: oldLine++, new_line: null, segments: NO_SEGMENTS, index };
      else lines[i] = { tag: "context", old_line: oldLine++, new_line: newLine++, segments: NO_SEGMENTS, index };
    }
    return { header: diff.hunks[hi]?.header ?? "", lines };
  });
}

/** Lines per page fetched for an outlined diff. */
export const PAGE_LINES = 500;

/** Pages kept in the window for an outlined diff (the rest are fetched again when needed). */
export const PAGES_KEPT = 40;

/** The global line index of `l` when it is a stub of an outlined diff. */
export const stubIndex = (l: DiffLine): number | undefined => (l as Partial<StubLine>).index;

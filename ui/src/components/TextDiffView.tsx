import { memo, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { diffRows, ROW_HEIGHT, rowWindow, VIRTUALISE_ABOVE, type DiffRow } from "../lib/diffview";
import { SafeText } from "./SafeText";

const GUTTER = { added: "+", removed: "-", context: " " } as const;

/** Height of the diff's scroll box before it has been laid out (and in tests, which have no layout). */
const FALLBACK_VIEWPORT = 600;

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

const Line = memo(function Line({ line }: { line: DiffLine }) {
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
});

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

const SplitLine = memo(function SplitLine({ left, right }: { left: DiffLine | null; right: DiffLine | null }) {
  return (
    <tr className="diff-split-row" data-testid="diff-split-row">
      <Half line={left} side="old" />
      <Half line={right} side="new" />
    </tr>
  );
});

type Mode = "unified" | "split";

/**
 * A text diff, unified (old and new line numbers, a `+`/`-` gutter so the change reads without
 * colour) or side by side (old left, new right, replacements across). Changed words are
 * emphasized. Long unchanged runs fold to a "n unchanged lines" row.
 *
 * A diff of more than {@link VIRTUALISE_ABOVE} rows scrolls in a box of its own and keeps only
 * the rows in view (plus a margin) in the DOM, every row {@link ROW_HEIGHT} pixels high with its
 * line unwrapped (it scrolls sideways), so a 5 MiB payload shows at once and scrolls like a
 * short one: nothing of the diff is cut, hidden or summarised. Smaller diffs render whole, their
 * long lines wrapped.
 */
export const TextDiffView = memo(function TextDiffView({ diff }: { diff: TextDiff }) {
  const [mode, setMode] = useState<Mode>("unified");
  const [opened, setOpened] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(() => diffRows(diff.hunks, mode, opened), [diff, mode, opened]);
  const virtual = rows.length > VIRTUALISE_ABOVE;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(FALLBACK_VIEWPORT);
  // The CSS fixes the height of a row; a font with other metrics still gets aligned spacers.
  const [rowHeight, setRowHeight] = useState(ROW_HEIGHT);
  const cols = mode === "unified" ? 4 : 6;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!virtual || !el) return;
    const measure = () => setViewport(el.clientHeight || FALLBACK_VIEWPORT);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [virtual]);

  useLayoutEffect(() => {
    if (!virtual) return;
    const h = scroller.current?.querySelector("tr.diff-line, tr.diff-split-row")?.getBoundingClientRect().height ?? 0;
    if (h > 0 && Math.abs(h - rowHeight) > 0.5) setRowHeight(h);
  });

  const [start, end] = virtual ? rowWindow(rows.length, rowHeight, scrollTop, viewport) : [0, rows.length];

  const rowView = (r: DiffRow, i: number) => {
    switch (r.type) {
      case "header":
        return (
          <tr key={i} className="diff-hunk-header">
            <td colSpan={cols}>
              <SafeText text={r.text} />
            </td>
          </tr>
        );
      case "fold":
        return (
          <tr key={i} className="diff-fold">
            <td colSpan={cols}>
              <button
                type="button"
                className="btn btn-ghost btn-small"
                data-testid="diff-fold"
                onClick={() => setOpened(new Set([...opened, r.key]))}
              >
                ⋯ {r.count} unchanged lines
              </button>
            </td>
          </tr>
        );
      case "line":
        return <Line key={i} line={r.line} />;
      case "split":
        return <SplitLine key={i} left={r.left} right={r.right} />;
    }
  };

  const spacer = (key: string, n: number) =>
    n > 0 && (
      <tr key={key} className="diff-spacer" aria-hidden="true" style={{ height: n * rowHeight }}>
        <td colSpan={cols} />
      </tr>
    );

  const table = (
    <table className={mode === "unified" ? "diff-table" : "diff-table diff-split"}>
      <tbody>
        {virtual && spacer("above", start)}
        {rows.slice(start, end).map((r, k) => rowView(r, start + k))}
        {virtual && spacer("below", rows.length - end)}
      </tbody>
    </table>
  );

  return (
    <div className="diff" data-testid="diff" data-mode={mode} data-rows={rows.length} data-virtual={virtual || undefined}>
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
      ) : virtual ? (
        <div
          className="diff-scroll diff-virtual"
          ref={scroller}
          data-testid="diff-scroll"
          tabIndex={0}
          aria-label={`${rows.length} diff rows`}
          onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        >
          {table}
        </div>
      ) : (
        table
      )}
    </div>
  );
});

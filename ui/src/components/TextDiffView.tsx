import { createContext, memo, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import type { Hunk } from "../bindings/Hunk";
import { diffRows, foldRanges, layoutHunks, PAGE_LINES, PAGES_KEPT, ROW_HEIGHT, rowWindow, stubIndex, VIRTUALISE_ABOVE, type DiffRow } from "../lib/diffview";
import type { DiffFocus } from "../lib/locate";
import { tokenize } from "../lib/syntax";
import { SafeText } from "./SafeText";

const GUTTER = { added: "+", removed: "-", context: " " } as const;

/** Height of the diff's scroll box before it has been laid out (and in tests, which have no layout). */
const FALLBACK_VIEWPORT = 600;

/** UTF-16 columns `[start, end)` of a line's text to mark (a located risk factor). */
type Mark = readonly [number, number];

/** The grammar the diff's lines are highlighted with (see lib/syntax), null for plain text. */
const Language = createContext<string | null>(null);

/** Text with syntax highlighting: the grammar's tokens as spans, each text through SafeText. */
function Code({ text }: { text: string }) {
  const lang = useContext(Language);
  const tokens = useMemo(() => tokenize(text, lang), [text, lang]);
  return (
    <>
      {tokens.map((t, i) =>
        t.cls ? (
          <span key={i} className={t.cls}>
            <SafeText text={t.text} />
          </span>
        ) : (
          <SafeText key={i} text={t.text} />
        ),
      )}
    </>
  );
}

function Segment({ text, emphasized }: { text: string; emphasized?: boolean }) {
  return emphasized ? (
    <mark className="diff-emph">
      <Code text={text} />
    </mark>
  ) : (
    <Code text={text} />
  );
}

/**
 * The line's text; with `mark`, the marked columns wrapped in a `diff-spot` mark (an empty
 * range shows as a marker where the value starts).
 */
function Segments({ line, mark }: { line: DiffLine; mark?: Mark }) {
  if (!mark) return <>{line.segments.map((s, i) => <Segment key={i} text={s.text} emphasized={s.emphasized} />)}</>;
  const [from, to] = mark;
  const out: ReactNode[] = [];
  let at = 0;
  let marked = false;
  const spot = (children: ReactNode) => (
    <mark key={`spot-${out.length}`} className="diff-spot" data-testid="diff-spot">
      {children}
    </mark>
  );
  line.segments.forEach((seg, i) => {
    const end = at + seg.text.length;
    const a = Math.min(Math.max(from, at), end) - at;
    const b = Math.min(Math.max(to, at), end) - at;
    if (a > 0) out.push(<Segment key={`${i}a`} text={seg.text.slice(0, a)} emphasized={seg.emphasized} />);
    if (b > a) {
      out.push(spot(<Segment text={seg.text.slice(a, b)} emphasized={seg.emphasized} />));
      marked = true;
    } else if (from === to && !marked && from >= at && from <= end) {
      out.push(spot(null));
      marked = true;
    }
    if (seg.text.length > b) out.push(<Segment key={`${i}b`} text={seg.text.slice(b)} emphasized={seg.emphasized} />);
    at = end;
  });
  if (!marked) out.push(spot(null));
  return <>{out}</>;
}

const Line = memo(function Line({ line, mark }: { line: DiffLine; mark?: Mark }) {
  return (
    <tr
      className={`diff-line diff-${line.tag}${mark ? " diff-located" : ""}`}
      data-tag={line.tag}
      data-located={mark ? "true" : undefined}
    >
      <td className="diff-num diff-num-old">{line.old_line ?? ""}</td>
      <td className="diff-num diff-num-new">{line.new_line ?? ""}</td>
      <td className="diff-gutter" aria-label={line.tag}>
        {GUTTER[line.tag]}
      </td>
      <td className="diff-text">
        <Segments line={line} mark={mark} />
      </td>
    </tr>
  );
});

/** One side of a side-by-side row; an empty cell where the other side has no counterpart. */
function Half({ line, side, mark }: { line: DiffLine | null; side: "old" | "new"; mark?: Mark }) {
  if (!line) return <td className="diff-empty" colSpan={3} />;
  const tag = line.tag;
  return (
    <>
      <td className="diff-num">{side === "old" ? line.old_line : line.new_line}</td>
      <td className={`diff-gutter diff-${tag}`} aria-label={tag}>
        {GUTTER[tag]}
      </td>
      <td className={`diff-text diff-${tag}`} data-tag={tag}>
        <Segments line={line} mark={mark} />
      </td>
    </>
  );
}

/** A row of an outlined diff whose text is being fetched: numbers and gutter, no text yet. */
function PendingRow({ left, right, mode }: { left: DiffLine | null; right: DiffLine | null; mode: Mode }) {
  const l = right ?? left!;
  const num = (x: DiffLine | null, side: "old" | "new") => (x ? (side === "old" ? x.old_line : x.new_line) ?? "" : "");
  return mode === "unified" ? (
    <tr className={`diff-pending diff-${l.tag}`} aria-busy="true">
      <td className="diff-num diff-num-old">{l.old_line ?? ""}</td>
      <td className="diff-num diff-num-new">{l.new_line ?? ""}</td>
      <td className="diff-gutter" aria-label={l.tag}>
        {GUTTER[l.tag]}
      </td>
      <td className="diff-text muted">…</td>
    </tr>
  ) : (
    <tr className="diff-pending" aria-busy="true">
      <td className="diff-num">{num(left, "old")}</td>
      <td className="diff-gutter" />
      <td className="diff-text muted">{left ? "…" : ""}</td>
      <td className="diff-num">{num(right, "new")}</td>
      <td className="diff-gutter" />
      <td className="diff-text muted">{right ? "…" : ""}</td>
    </tr>
  );
}

const SplitLine = memo(function SplitLine({ left, right, mark }: { left: DiffLine | null; right: DiffLine | null; mark?: Mark }) {
  return (
    <tr
      className={`diff-split-row${mark ? " diff-located" : ""}`}
      data-testid="diff-split-row"
      data-located={mark ? "true" : undefined}
    >
      <Half line={left} side="old" />
      <Half line={right} side="new" mark={mark} />
    </tr>
  );
});

/** Whether row `r` shows new line `n` (its new side). */
function showsNewLine(r: DiffRow, n: number): boolean {
  const l = r.type === "line" ? r.line : r.type === "split" ? r.right : null;
  return l !== null && l.tag !== "removed" && l.new_line === n;
}

/** The key of the closed fold hiding new line `n`, if one does. */
function foldHiding(hunks: readonly Hunk[], n: number, opened: ReadonlySet<string>): string | null {
  for (const [hi, h] of hunks.entries()) {
    for (const f of foldRanges(h.lines, String(hi))) {
      if (opened.has(f.key)) continue;
      if (h.lines.slice(f.start, f.end).some((l) => l.tag !== "removed" && l.new_line === n)) return f.key;
    }
  }
  return null;
}

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
export const TextDiffView = memo(function TextDiffView({
  diff,
  focus,
  fetchLines,
  lang = null,
}: {
  diff: TextDiff;
  /** Grammar for syntax highlighting (`languageOf` in lib/syntax); null for plain text. */
  lang?: string | null;
  focus?: DiffFocus | null;
  /** Fetches lines `[from, to)` of an outlined diff (`diff.outline`): the text of the rows in view. */
  fetchLines?: (from: number, to: number) => Promise<DiffLine[]>;
}) {
  const [mode, setMode] = useState<Mode>("unified");
  const [opened, setOpened] = useState<ReadonlySet<string>>(new Set());
  const hunks = useMemo(() => layoutHunks(diff), [diff]);
  const rows = useMemo(() => diffRows(hunks, mode, opened), [hunks, mode, opened]);
  const total = useMemo(() => (diff.outline ? diff.outline.reduce((n, h) => n + h.tags.length, 0) : 0), [diff]);
  const virtual = rows.length > VIRTUALISE_ABOVE;
  const scroller = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLDivElement>(null);
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

  // "Show where" from the risk panel: open the fold hiding the line, scroll the line into the
  // window (and the box into the page), mark the columns.
  const [located, setLocated] = useState<DiffFocus | null>(null);
  const handled = useRef<number | null>(null);
  const pendingScroll = useRef(false);
  useLayoutEffect(() => {
    if (!focus || handled.current === focus.n) return;
    const at = rows.findIndex((r) => showsNewLine(r, focus.line));
    if (at < 0) {
      const fold = foldHiding(hunks, focus.line, opened);
      if (fold) setOpened(new Set([...opened, fold]));
      else handled.current = focus.n;
      return;
    }
    handled.current = focus.n;
    setLocated(focus);
    pendingScroll.current = true;
    const el = scroller.current;
    if (virtual && el) {
      const top = Math.max(0, at * rowHeight - el.clientHeight / 2);
      el.scrollTop = top;
      setScrollTop(top);
    }
  }, [focus, rows, hunks, opened, virtual, rowHeight]);
  useLayoutEffect(() => {
    if (!pendingScroll.current) return;
    const row = box.current?.querySelector<HTMLElement>("tr[data-located]");
    if (!row) return;
    pendingScroll.current = false;
    row.scrollIntoView?.({ block: "center" });
  });
  const markOf = (r: DiffRow): Mark | undefined =>
    located && showsNewLine(r, located.line) ? [located.start, located.end] : undefined;

  const [start, end] = virtual ? rowWindow(rows.length, rowHeight, scrollTop, viewport) : [0, rows.length];

  // An outlined diff: the text of the rows in view is fetched by page, kept for the
  // PAGES_KEPT pages used last, and drawn when it arrives.
  const [pages, setPages] = useState<{ diff: TextDiff; lines: ReadonlyMap<number, DiffLine[]> }>({ diff, lines: new Map() });
  const [pageError, setPageError] = useState<string | null>(null);
  const inFlight = useRef(new Set<number>());
  const kept = pages.diff === diff ? pages.lines : null;
  const wanted = useMemo(() => {
    const need = new Set<number>();
    if (!diff.outline) return need;
    for (const r of rows.slice(start, end)) {
      const ls = r.type === "line" ? [r.line] : r.type === "split" ? [r.left, r.right] : [];
      for (const l of ls) {
        const i = l ? stubIndex(l) : undefined;
        if (i !== undefined) need.add(Math.floor(i / PAGE_LINES));
      }
    }
    return need;
  }, [diff, rows, start, end]);
  useEffect(() => {
    if (!diff.outline) return;
    if (pages.diff !== diff) {
      inFlight.current = new Set();
      setPageError(null);
      setPages({ diff, lines: new Map() });
      return;
    }
    if (!fetchLines) {
      setPageError("the text of this diff's lines cannot be fetched here");
      return;
    }
    for (const p of wanted) {
      if (pages.lines.has(p) || inFlight.current.has(p)) continue;
      inFlight.current.add(p);
      const from = p * PAGE_LINES;
      fetchLines(from, Math.min(total, from + PAGE_LINES)).then(
        (lines) => {
          inFlight.current.delete(p);
          setPages((prev) => {
            if (prev.diff !== diff) return prev;
            const next = new Map(prev.lines);
            next.set(p, lines);
            // Drop the pages fetched longest ago that are not in view.
            for (const k of next.keys()) {
              if (next.size <= PAGES_KEPT) break;
              if (!wanted.has(k)) next.delete(k);
            }
            return { diff, lines: next };
          });
        },
        (e: unknown) => {
          inFlight.current.delete(p);
          const message = e !== null && typeof e === "object" && "message" in e ? String((e as { message: unknown }).message) : String(e);
          setPageError(`lines ${from + 1}–${Math.min(total, from + PAGE_LINES)} could not be loaded: ${message}`);
        },
      );
    }
  }, [diff, pages, wanted, fetchLines, total]);
  /** The line to draw for `l`: itself, or for a stub its fetched line (null while fetching). */
  const shown = (l: DiffLine | null): DiffLine | null => {
    if (!l) return null;
    const i = stubIndex(l);
    if (i === undefined) return l;
    return kept?.get(Math.floor(i / PAGE_LINES))?.[i % PAGE_LINES] ?? null;
  };

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
      case "line": {
        const line = shown(r.line);
        return line ? <Line key={i} line={line} mark={markOf(r)} /> : <PendingRow key={i} left={null} right={r.line} mode={mode} />;
      }
      case "split": {
        const [left, right] = [shown(r.left), shown(r.right)];
        if ((r.left && !left) || (r.right && !right)) return <PendingRow key={i} left={r.left} right={r.right} mode={mode} />;
        return <SplitLine key={i} left={left} right={right} mark={markOf(r)} />;
      }
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
    <Language.Provider value={lang}>
      <div className="diff" ref={box} data-testid="diff" data-mode={mode} data-rows={rows.length} data-virtual={virtual || undefined}>
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
        {pageError && (
          <p className="note warn" data-testid="diff-page-error" role="alert">
            <SafeText text={`Some lines of this diff are not shown: ${pageError}.`} inline />
          </p>
        )}
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
    </Language.Provider>
  );
});

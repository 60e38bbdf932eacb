import { useEffect, useLayoutEffect, useMemo, useRef, useState, type Ref } from "react";
import type { ActionSummary } from "../bindings/ActionSummary";
import { isBatchable } from "../lib/batch";
import { countHiddenIn } from "../lib/hidden";
import { ITEM_HEIGHT, layout, queueItems, visibleRange, type QueueItem } from "../lib/queue";
import { absolute, age, timeLeft } from "../lib/time";
import { QueueFilters, type QueueFiltersProps } from "./QueueFilters";
import { RiskBadge } from "./RiskBadge";
import { SafeText } from "./SafeText";

type Props = {
  /** `null` while the first list is loading. Already filtered. */
  actions: ActionSummary[] | null;
  /** Every draft (for the filter choices and "n of m"). */
  all: ActionSummary[] | null;
  openId: string | null;
  cursorId: string | null;
  now: number;
  onOpen: (id: string) => void;
  filters: QueueFiltersProps["filters"];
  onFilters: QueueFiltersProps["onChange"];
  searchRef?: Ref<HTMLInputElement>;
  /** Ids selected for a batch approval (pending, low risk). */
  selected?: ReadonlySet<string>;
  /** Selects or unselects one low-risk pending draft. */
  onToggle?: (id: string) => void;
  /** Opens the batch confirmation for every low-risk pending draft of `agent`. */
  onApproveAgentLow?: (agent: string) => void;
  /** Opens the batch confirmation for the selection. */
  onBatch?: () => void;
  onClearSelection?: () => void;
};

const NONE: ReadonlySet<string> = new Set();

/** Height used before the list has been laid out (and in tests, which have no layout). */
const FALLBACK_VIEWPORT = 900;

/**
 * Left pane: filters, then pending drafts grouped by agent (riskiest group first, riskiest then
 * oldest inside), then the decided ones. Only the lines in view are in the DOM, so 10,000
 * drafts scroll like 10.
 */
export function Queue({
  actions,
  all,
  openId,
  cursorId,
  now,
  onOpen,
  filters,
  onFilters,
  searchRef,
  selected = NONE,
  onToggle,
  onApproveAgentLow,
  onBatch,
  onClearSelection,
}: Props) {
  const rows = useRef(new Map<string, HTMLButtonElement>());
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(FALLBACK_VIEWPORT);
  const items = useMemo(() => (actions ? queueItems(actions) : []), [actions]);
  const { offsets, total } = useMemo(() => layout(items), [items]);
  const focusWanted = useRef<string | null>(null);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || FALLBACK_VIEWPORT);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [actions === null]);

  // Moving the cursor scrolls its row into view and moves focus with it, so Enter acts on the
  // queue, never on a decision button that happened to keep focus in the detail pane.
  useLayoutEffect(() => {
    if (!cursorId) return;
    const at = items.findIndex((it) => it.type === "row" && it.action.id === cursorId);
    const el = scroller.current;
    if (at < 0 || !el) return;
    const top = offsets[at]!;
    const bottom = top + ITEM_HEIGHT.row;
    const view = el.clientHeight || viewport;
    let next = el.scrollTop;
    if (top < next) next = top;
    else if (bottom > next + view) next = bottom - view;
    if (next !== el.scrollTop) {
      el.scrollTop = next;
      setScrollTop(next);
    }
    focusWanted.current = cursorId;
    // Only a cursor move scrolls; list updates keep the reader's place.
  }, [cursorId]);

  useEffect(() => {
    const id = focusWanted.current;
    if (!id) return;
    const el = rows.current.get(id);
    if (el) {
      focusWanted.current = null;
      el.focus({ preventScroll: true });
    }
  });

  if (actions === null || all === null) {
    return (
      <nav className="queue" aria-label="Drafts">
        <p className="empty">Loading drafts…</p>
      </nav>
    );
  }

  const [start, end] = visibleRange(offsets, total, scrollTop, viewport);
  const line = (it: QueueItem, i: number) => {
    const style = { top: offsets[i], height: ITEM_HEIGHT[it.type] };
    switch (it.type) {
      case "section":
        return (
          <li key={it.key} className="vq-line" style={style}>
            <h2 className="queue-heading">
              {it.label} <span className="count">{it.count}</span>
            </h2>
          </li>
        );
      case "group":
        return (
          <li key={it.key} className="vq-line" style={style} data-testid="queue-group" data-agent={it.agent}>
            <h3 className="queue-group">
              <SafeText text={it.agent} inline /> <span className="count">{it.count}</span>
              {it.low > 0 && onApproveAgentLow && (
                <button
                  type="button"
                  className="btn btn-ghost btn-tiny group-batch"
                  data-testid="approve-agent-low"
                  title={`approve the ${it.low} low-risk drafts of this agent, after a confirmation listing their targets`}
                  onClick={() => onApproveAgentLow(it.agent)}
                >
                  Approve {it.low} low…
                </button>
              )}
            </h3>
          </li>
        );
      case "empty":
        return (
          <li key={it.key} className="vq-line" style={style}>
            <p className="empty">{it.label}</p>
          </li>
        );
      case "row":
        return (
          <li key={it.key} className="vq-line vq-row" style={style}>
            {selector(it.action)}
            {row(it.action)}
          </li>
        );
    }
  };
  // Only low-risk pending drafts can join a batch; the others keep an empty gutter.
  const selector = (a: ActionSummary) =>
    onToggle && isBatchable(a) ? (
      <label className="qi-select" title="select for a batch approval (x)">
        <input
          type="checkbox"
          data-testid="queue-select"
          data-id={a.id}
          aria-label="select for a batch approval"
          checked={selected.has(a.id)}
          onChange={() => onToggle(a.id)}
        />
      </label>
    ) : (
      <span className="qi-select" />
    );
  const row = (a: ActionSummary) => (
    <button
      type="button"
      ref={(el) => {
        if (el) rows.current.set(a.id, el);
        else rows.current.delete(a.id);
      }}
      className={
        "queue-item" +
        (a.status !== "pending" ? " is-decided" : "") +
        (a.id === openId ? " is-open" : "") +
        (a.id === cursorId ? " is-cursor" : "") +
        (selected.has(a.id) ? " is-selected" : "")
      }
      data-testid="queue-item"
      data-id={a.id}
      data-status={a.status}
      aria-current={a.id === openId ? "true" : undefined}
      onClick={() => onOpen(a.id)}
    >
      <span className="qi-line">
        <RiskBadge score={a.score} level={a.level} />
        <span className="qi-agent">
          <SafeText text={a.agent} inline />
        </span>
        <span className="qi-kind">{a.kind}</span>
        {countHiddenIn(a.agent + a.target + a.summary).total > 0 && (
          <span className="qi-hidden-flag" title="the agent, target or summary contains hidden characters">
            ⚠ hidden chars
          </span>
        )}
        <span className="qi-time" title={`submitted ${absolute(a.created_at)}, expires ${absolute(a.expires_at)}`}>
          {a.status === "pending" ? (
            <>
              {age(now, a.created_at)} ·{" "}
              <span className={a.expires_at - now < 120 ? "qi-expiry soon" : "qi-expiry"}>{timeLeft(now, a.expires_at)}</span>
            </>
          ) : (
            <>
              <span className={`status-chip status-${a.status}`}>{a.status}</span> {age(now, a.created_at)}
            </>
          )}
        </span>
      </span>
      <span className="qi-target">
        <SafeText text={a.target} inline />
      </span>
      <span className="qi-summary">
        <SafeText text={a.summary} inline />
      </span>
    </button>
  );

  return (
    <nav className="queue" aria-label="Drafts">
      <QueueFilters all={all} shown={actions.length} filters={filters} onChange={onFilters} searchRef={searchRef} />
      {selected.size > 0 && (
        <div className="batch-bar" data-testid="batch-bar">
          <span>
            <strong data-testid="selected-count">{selected.size}</strong> low-risk selected
          </span>
          <button type="button" className="btn btn-approve btn-small" data-testid="batch-approve" onClick={onBatch}>
            Approve {selected.size}… <kbd>A</kbd>
          </button>
          <button type="button" className="btn btn-ghost btn-small" onClick={onClearSelection}>
            Clear
          </button>
        </div>
      )}
      <div
        className="queue-scroll"
        ref={scroller}
        data-testid="queue-scroll"
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        <ul className="vq" style={{ height: total }} aria-label={`${actions.length} drafts`}>
          {items.slice(start, end).map((it, k) => line(it, start + k))}
        </ul>
      </div>
      <p className="queue-hint muted">
        <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>x</kbd> select low · <kbd>/</kbd> search · <kbd>?</kbd>{" "}
        keys
      </p>
    </nav>
  );
}

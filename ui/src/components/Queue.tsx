import { useEffect, useRef } from "react";
import type { ActionSummary } from "../bindings/ActionSummary";
import { countHiddenIn } from "../lib/hidden";
import { sections } from "../lib/queue";
import { absolute, age, timeLeft } from "../lib/time";
import { RiskBadge } from "./RiskBadge";
import { SafeText } from "./SafeText";

type Props = {
  /** `null` while the first list is loading. */
  actions: ActionSummary[] | null;
  openId: string | null;
  cursorId: string | null;
  now: number;
  onOpen: (id: string) => void;
};

/** Left pane: pending drafts (riskiest first), then a "Decided" section. */
export function Queue({ actions, openId, cursorId, now, onOpen }: Props) {
  const rows = useRef(new Map<string, HTMLButtonElement>());

  // Moving the cursor moves focus with it, so Enter acts on the queue, never on a decision
  // button that happened to keep focus in the detail pane.
  useEffect(() => {
    if (!cursorId) return;
    const el = rows.current.get(cursorId);
    if (!el) return;
    el.scrollIntoView?.({ block: "nearest" });
    el.focus();
  }, [cursorId]);

  if (actions === null) {
    return (
      <nav className="queue" aria-label="Drafts">
        <p className="empty">Loading drafts…</p>
      </nav>
    );
  }
  const { pending, decided } = sections(actions);
  const row = (a: ActionSummary) => (
    <li key={a.id}>
      <button
        type="button"
        ref={(el) => {
          if (el) rows.current.set(a.id, el);
          else rows.current.delete(a.id);
        }}
        className={
          "queue-item" + (a.id === openId ? " is-open" : "") + (a.id === cursorId ? " is-cursor" : "")
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
                {age(now, a.created_at)} · <span className={a.expires_at - now < 120 ? "qi-expiry soon" : "qi-expiry"}>{timeLeft(now, a.expires_at)}</span>
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
    </li>
  );
  return (
    <nav className="queue" aria-label="Drafts">
      <h2 className="queue-heading">
        Pending <span className="count">{pending.length}</span>
      </h2>
      {pending.length === 0 ? <p className="empty">No pending drafts</p> : <ul className="queue-list">{pending.map(row)}</ul>}
      {decided.length > 0 && (
        <>
          <h2 className="queue-heading">
            Decided <span className="count">{decided.length}</span>
          </h2>
          <ul className="queue-list decided">{decided.map(row)}</ul>
        </>
      )}
      <p className="queue-hint muted">
        <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open
      </p>
    </nav>
  );
}

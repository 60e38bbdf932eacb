import type { HistoryEntry } from "../bindings/HistoryEntry";
import { absolute, age } from "../lib/time";
import { RiskBadge } from "./RiskBadge";
import { SafeText } from "./SafeText";

type Props = {
  /** `null` while loading. Already filtered. */
  entries: HistoryEntry[] | null;
  openId: string | null;
  cursorId: string | null;
  now: number;
  onOpen: (id: string) => void;
};

/** Decided drafts, most recently decided first: what, who decided, when, and why. */
export function History({ entries, openId, cursorId, now, onOpen }: Props) {
  if (entries === null) return <p className="empty">Loading history…</p>;
  if (entries.length === 0) return <p className="empty">Nothing decided yet.</p>;
  return (
    <ul className="history-list" aria-label="Decided drafts">
      {entries.map((e) => {
        const d = e.draft;
        return (
          <li key={d.id}>
            <button
              type="button"
              className={
                "queue-item history-item" + (d.id === openId ? " is-open" : "") + (d.id === cursorId ? " is-cursor" : "")
              }
              data-testid="history-item"
              data-id={d.id}
              data-status={d.status}
              onClick={() => onOpen(d.id)}
            >
              <span className="qi-line">
                <RiskBadge score={d.score} level={d.level} />
                <span className="qi-agent">
                  <SafeText text={d.agent} inline />
                </span>
                <span className="qi-kind">{d.kind}</span>
                <span className={`status-chip status-${d.status}`}>{d.status}</span>
              </span>
              <span className="qi-summary">
                <SafeText text={d.summary} inline />
              </span>
              <span className="history-who" data-testid="history-who">
                {d.status === "expired" ? "expired, signed by " : `${d.status} by `}
                <SafeText text={e.approver} inline /> · <span title={absolute(e.decided_at)}>{age(now, e.decided_at)}</span>
              </span>
              {e.reason !== null && (
                <span className="history-why" data-testid="history-why">
                  <SafeText text={e.reason} inline />
                </span>
              )}
            </button>
          </li>
        );
      })}
    </ul>
  );
}

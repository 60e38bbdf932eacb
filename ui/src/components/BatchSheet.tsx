import { useEffect, useId, useMemo, useRef } from "react";
import type { ActionSummary } from "../bindings/ActionSummary";
import { BATCH_MAX, targetUnion } from "../lib/batch";
import { useModalKeys } from "./AddAgentDialog";
import { SafeText } from "./SafeText";

type Props = {
  /** The selected drafts (all pending and low risk; Rust checks again). */
  drafts: readonly ActionSummary[];
  /** The approval is in flight: both buttons are disabled. */
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
};

/**
 * The confirmation sheet of a batch approval, shown before anything is signed: how many drafts,
 * from which agents, and every target they act on (each once, with how many drafts act on it).
 * The focus starts on Cancel; approving is a click or a deliberate Enter on its button.
 */
export function BatchSheet({ drafts, busy, onConfirm, onCancel }: Props) {
  const titleId = useId();
  const cancel = useRef<HTMLButtonElement>(null);
  const modal = useRef<HTMLDivElement>(null);
  const targets = useMemo(() => targetUnion(drafts), [drafts]);
  const agents = useMemo(() => [...new Set(drafts.map((d) => d.agent))].sort(), [drafts]);
  const tooMany = drafts.length > BATCH_MAX;

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    cancel.current?.focus();
    return () => opener?.focus();
  }, []);
  useModalKeys(modal, busy, onCancel);

  const n = drafts.length;
  return (
    <div className="modal-backdrop">
      <div ref={modal} className="modal batch-sheet" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="batch-sheet">
        <h2 id={titleId}>
          Approve <span data-testid="batch-count">{n}</span> low-risk draft{n === 1 ? "" : "s"}?
        </h2>
        <p className="muted">
          Each draft gets its own signed approval. Countersign checks each one again first: a draft that is no longer
          pending, no longer low risk, or changed since the queue showed it stays pending and is reported.
        </p>
        <p>
          From {agents.length === 1 ? "agent" : `${agents.length} agents:`}{" "}
          {agents.map((a, i) => (
            <span key={a}>
              {i > 0 && ", "}
              <strong>
                <SafeText text={a} inline />
              </strong>
            </span>
          ))}
        </p>
        <h3 className="batch-targets-title">
          {targets.length} target{targets.length === 1 ? "" : "s"}
        </h3>
        <ul className="batch-targets" data-testid="batch-targets">
          {targets.map((t) => (
            <li key={t.target} data-testid="batch-target" data-count={t.count}>
              <span className="batch-target-count">{t.count} ×</span> <SafeText text={t.target} inline />
            </li>
          ))}
        </ul>
        {tooMany && (
          <p className="note warn">
            At most {BATCH_MAX} drafts can be approved at once; clear some of the selection.
          </p>
        )}
        <div className="modal-buttons">
          <button
            type="button"
            className="btn btn-approve"
            data-testid="batch-confirm"
            disabled={busy || tooMany || n === 0}
            onClick={onConfirm}
          >
            Approve {n}
          </button>
          <button type="button" ref={cancel} className="btn" data-testid="batch-cancel" disabled={busy} onClick={onCancel}>
            Cancel
          </button>
          {busy && <span className="muted">Signing…</span>}
        </div>
      </div>
    </div>
  );
}

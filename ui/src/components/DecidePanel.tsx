import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { RiskLevel } from "../bindings/RiskLevel";

/** A keyboard command for this panel; `n` changes on every key press. */
export type DecideCommand = { key: "approve" | "reject"; n: number };

/** Levels whose approval needs a deliberate second step, never one click or key press. */
export const CONFIRM_LEVELS: readonly RiskLevel[] = ["high", "critical"];

/**
 * The reason the agent receives: the reason, then the reviewer's suggestion (optional) on its
 * own paragraph, so an agent can revise its draft. Both travel in the signed `reason`.
 */
export function rejectionText(reason: string, suggestion: string): string {
  const r = reason.trim();
  const s = suggestion.trim();
  return s ? `${r}\n\nSuggestion: ${s}` : r;
}

type Props = {
  level: RiskLevel;
  /** The draft's expiry has passed on this clock; Rust would refuse anyway. */
  expired: boolean;
  /** A decision request is in flight: every button is disabled. */
  busy: boolean;
  /** Approve is not possible right now (an edit that is invalid or still being checked). */
  approveBlocked?: boolean;
  approveLabel?: string;
  /** Keyboard command from the app: `a` acts like the Approve button, `r` opens the reason. */
  command?: DecideCommand | null;
  /** Start editing (absent while already editing). */
  onEdit?: () => void;
  onApprove: () => void;
  onReject: (reason: string) => void;
};

type Mode = "idle" | "confirm-approve" | "reject";

/**
 * Approve, Edit and Reject for a pending draft. A high or critical draft needs a second,
 * deliberate step (the confirm button; a key press only opens it); a rejection needs a reason
 * and may carry a suggestion. The digest sent is the one on screen (the caller binds it).
 */
export function DecidePanel({
  level,
  expired,
  busy,
  approveBlocked = false,
  approveLabel = "Approve",
  command,
  onEdit,
  onApprove,
  onReject,
}: Props) {
  const [mode, setMode] = useState<Mode>("idle");
  const [reason, setReason] = useState("");
  const [suggestion, setSuggestion] = useState("");
  const [reasonError, setReasonError] = useState(false);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  const reasonId = useId();
  const disabled = busy || expired || approveBlocked;
  const confirmRef = useRef<HTMLButtonElement>(null);

  const approveClicked = () => {
    if (CONFIRM_LEVELS.includes(level)) {
      setMode("confirm-approve");
    } else onApprove();
  };
  const openReject = () => setMode("reject");
  // Focus once the control is rendered (a key command renders later than a click does). The
  // confirmation gets the focus so it is seen; the second step is still a click or a deliberate
  // Enter/Space on that button (the queue's Enter ignores buttons).
  useEffect(() => {
    if (mode === "reject") reasonRef.current?.focus();
    if (mode === "confirm-approve") confirmRef.current?.focus();
  }, [mode]);

  const lastCommand = useRef<number | null>(null);
  useEffect(() => {
    if (!command || command.n === lastCommand.current) return;
    lastCommand.current = command.n;
    if (command.key === "approve" && !disabled && mode !== "confirm-approve") approveClicked();
    if (command.key === "reject" && !busy) openReject();
    // Only a new command acts; the handlers read the current props.
  }, [command]);

  const submitReject = (e: FormEvent) => {
    e.preventDefault();
    const r = reason.trim();
    if (!r) {
      setReasonError(true);
      reasonRef.current?.focus();
      return;
    }
    onReject(rejectionText(r, suggestion));
  };

  return (
    <section className="decide" aria-label="Decide">
      {expired && <p className="note warn">This draft's expiry has passed; it can no longer be approved.</p>}
      <div className="decide-buttons">
        <button
          type="button"
          className="btn btn-approve"
          data-testid="approve"
          disabled={disabled || mode === "confirm-approve"}
          onClick={approveClicked}
        >
          {approveLabel}
        </button>
        {onEdit && (
          <button type="button" className="btn btn-ghost" data-testid="edit" disabled={busy} onClick={onEdit}>
            Edit
          </button>
        )}
        <button
          type="button"
          className="btn btn-reject"
          data-testid="reject"
          disabled={busy || mode === "reject"}
          onClick={openReject}
        >
          Reject
        </button>
        {busy && <span className="muted">Signing…</span>}
      </div>
      {mode === "confirm-approve" && (
        <div className="confirm critical" role="group" aria-label={`Confirm ${level} approval`}>
          <span className="confirm-text">⚠ Approve {level}-risk action?</span>
          <button
            type="button"
            ref={confirmRef}
            className="btn btn-approve"
            data-testid="confirm-approve"
            disabled={disabled}
            onClick={onApprove}
          >
            Confirm
          </button>
          <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setMode("idle")}>
            Cancel
          </button>
        </div>
      )}
      {mode === "reject" && (
        <form className="reject-form" onSubmit={submitReject} noValidate>
          <label htmlFor={reasonId}>Reason (sent to the agent, signed)</label>
          <textarea
            id={reasonId}
            ref={reasonRef}
            data-testid="reject-reason"
            required
            rows={3}
            value={reason}
            aria-invalid={reasonError || undefined}
            aria-describedby={reasonError ? `${reasonId}-err` : undefined}
            onChange={(e) => {
              setReason(e.target.value);
              if (e.target.value.trim()) setReasonError(false);
            }}
          />
          <label htmlFor={`${reasonId}-suggestion`}>Suggestion for the agent (optional, sent with the reason)</label>
          <textarea
            id={`${reasonId}-suggestion`}
            data-testid="reject-suggestion"
            rows={2}
            value={suggestion}
            onChange={(e) => setSuggestion(e.target.value)}
          />
          {reasonError && (
            <p id={`${reasonId}-err`} className="field-error">
              A reason is required to reject.
            </p>
          )}
          <div className="decide-buttons">
            <button type="submit" className="btn btn-reject" data-testid="confirm-reject" disabled={busy}>
              Confirm reject
            </button>
            <button
              type="button"
              className="btn btn-ghost"
              disabled={busy}
              onClick={() => {
                setMode("idle");
                setReasonError(false);
              }}
            >
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

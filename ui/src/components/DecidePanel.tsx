import { useId, useRef, useState, type FormEvent } from "react";
import type { RiskLevel } from "../bindings/RiskLevel";

type Props = {
  level: RiskLevel;
  /** The draft's expiry has passed on this clock; Rust would refuse anyway. */
  expired: boolean;
  /** A decision request is in flight: every button is disabled. */
  busy: boolean;
  onApprove: () => void;
  onReject: (reason: string) => void;
};

type Mode = "idle" | "confirm-approve" | "reject";

/**
 * Approve and Reject for a pending draft. A critical draft needs a second click; a rejection
 * needs a reason. The digest sent is the one on screen (the caller binds it).
 */
export function DecidePanel({ level, expired, busy, onApprove, onReject }: Props) {
  const [mode, setMode] = useState<Mode>("idle");
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState(false);
  const reasonRef = useRef<HTMLTextAreaElement>(null);
  const reasonId = useId();
  const disabled = busy || expired;

  const approveClicked = () => {
    if (level === "critical") setMode("confirm-approve");
    else onApprove();
  };

  const submitReject = (e: FormEvent) => {
    e.preventDefault();
    const r = reason.trim();
    if (!r) {
      setReasonError(true);
      reasonRef.current?.focus();
      return;
    }
    onReject(r);
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
          Approve
        </button>
        <button
          type="button"
          className="btn btn-reject"
          data-testid="reject"
          disabled={busy || mode === "reject"}
          onClick={() => {
            setMode("reject");
            // Focus after the form renders.
            setTimeout(() => reasonRef.current?.focus(), 0);
          }}
        >
          Reject
        </button>
        {busy && <span className="muted">Signing…</span>}
      </div>
      {mode === "confirm-approve" && (
        <div className="confirm critical" role="group" aria-label="Confirm critical approval">
          <span className="confirm-text">⚠ Approve critical-risk action?</span>
          <button type="button" className="btn btn-approve" data-testid="confirm-approve" disabled={disabled} onClick={onApprove}>
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

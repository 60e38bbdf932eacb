import { useEffect, useId, useRef, useState } from "react";
import type { Action } from "../bindings/Action";
import type { EditPreview } from "../bindings/EditPreview";
import * as api from "../lib/api";

/** Where an edit stands: the action to sign and its preview once Rust has checked it. */
export type EditState = {
  /** The edited action, when the fields parse. */
  action: Action | null;
  /** Rust's diff, impact, risk and digest of `action`; null while checking or when invalid. */
  preview: EditPreview | null;
  /** Why the edit cannot be approved as it stands. */
  error: string | null;
};

/** Delay after the last keystroke before the edit is re-checked, in milliseconds. */
export const PREVIEW_DELAY_MS = 200;

type Props = {
  id: string;
  original: Action;
  onChange: (state: EditState) => void;
  onCancel: () => void;
};

/**
 * Editing a draft before approving it: the summary and the payload (as JSON: text, command,
 * arguments). Kind, target and `before` stay as the agent sent them (Rust refuses otherwise).
 * Every change is re-checked by Rust (`preview_edit`), which returns the new diff, risk and
 * digest; the caller shows those and approves exactly the checked action.
 */
export function EditPanel({ id, original, onChange, onCancel }: Props) {
  const [summary, setSummary] = useState(original.summary);
  const [payload, setPayload] = useState(() => JSON.stringify(original.payload, null, 2));
  const seq = useRef(0);
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  const payloadId = useId();
  const summaryId = useId();

  useEffect(() => {
    const mine = ++seq.current;
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch (e) {
      changeRef.current({ action: null, preview: null, error: `The payload is not JSON: ${(e as Error).message}` });
      return;
    }
    const action: Action = { ...original, summary, payload: parsed as Action["payload"] };
    changeRef.current({ action, preview: null, error: null });
    const timer = setTimeout(() => {
      api.previewEdit(id, action).then(
        (preview) => {
          if (mine === seq.current) changeRef.current({ action, preview, error: null });
        },
        (e: unknown) => {
          if (mine === seq.current) changeRef.current({ action: null, preview: null, error: api.toApiError(e).message });
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [id, original, summary, payload]);

  return (
    <section className="panel edit" data-testid="edit-panel" aria-label="Edit before approving">
      <h3>Edit before approving</h3>
      <p className="note">
        You approve and sign your edit; the agent's gate runs it instead of its draft. Kind and target cannot change.
      </p>
      <label htmlFor={summaryId}>Summary</label>
      <input
        id={summaryId}
        className="edit-summary"
        data-testid="edit-summary"
        value={summary}
        onChange={(e) => setSummary(e.target.value)}
      />
      <label htmlFor={payloadId}>Payload (JSON)</label>
      <textarea
        id={payloadId}
        className="edit-payload code-block"
        data-testid="edit-payload"
        spellCheck={false}
        rows={Math.min(20, payload.split("\n").length + 1)}
        value={payload}
        onChange={(e) => setPayload(e.target.value)}
      />
      <div className="decide-buttons">
        <button type="button" className="btn btn-ghost" data-testid="edit-cancel" onClick={onCancel}>
          Discard edit
        </button>
      </div>
    </section>
  );
}

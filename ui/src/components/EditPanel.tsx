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

/** The one field of a payload most edits touch, edited as plain text. */
export type MainField = { key: "body" | "content" | "script" | "argv"; label: string };

/**
 * The field to offer as plain text for `kind`, when the payload has it: a post's or file's text,
 * a script, or a command's arguments (one per line). Everything else is edited as JSON.
 */
export function mainField(kind: Action["kind"], payload: unknown): MainField | null {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return null;
  const p = payload as Record<string, unknown>;
  if (kind === "message.post" && typeof p.body === "string") return { key: "body", label: "Text" };
  if (kind === "file.write" && typeof p.content === "string") return { key: "content", label: "File content" };
  if (kind === "shell.exec" && typeof p.script === "string") return { key: "script", label: "Script" };
  if (kind === "shell.exec" && Array.isArray(p.argv) && p.argv.every((a) => typeof a === "string"))
    return { key: "argv", label: "Command arguments (one per line, run without a shell)" };
  return null;
}

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
  const fieldId = useId();

  // The plain-text field reads from and writes into the JSON, which stays the one source.
  let parsedNow: unknown = undefined;
  try {
    parsedNow = JSON.parse(payload);
  } catch {
    parsedNow = undefined;
  }
  const field = mainField(original.kind, parsedNow);
  const fieldValue = field
    ? field.key === "argv"
      ? ((parsedNow as Record<string, string[]>).argv ?? []).join("\n")
      : String((parsedNow as Record<string, unknown>)[field.key])
    : "";
  const setField = (text: string) => {
    if (!field) return;
    const next = { ...(parsedNow as Record<string, unknown>) };
    next[field.key] = field.key === "argv" ? text.split("\n") : text;
    setPayload(JSON.stringify(next, null, 2));
  };

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
      {field && (
        <>
          <label htmlFor={fieldId}>{field.label}</label>
          <textarea
            id={fieldId}
            className="edit-payload code-block"
            data-testid="edit-field"
            data-field={field.key}
            spellCheck={false}
            rows={Math.min(16, fieldValue.split("\n").length + 1)}
            value={fieldValue}
            onChange={(e) => setField(e.target.value)}
          />
        </>
      )}
      <label htmlFor={payloadId}>{field ? "Whole payload (JSON)" : "Payload (JSON)"}</label>
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

import { useEffect, useId, useRef, useState, type FormEvent, type RefObject } from "react";
import type { NewAgent } from "../bindings/NewAgent";

/** Agent names as the broker accepts them. */
export const AGENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

type Props = {
  /** Creates the agent; rejects with an ApiError (shown by the caller's banner). */
  create: (name: string) => Promise<NewAgent>;
  onClose: () => void;
};

function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <button
      type="button"
      className="btn btn-small"
      onClick={() => {
        const clip = navigator.clipboard;
        if (!clip) {
          setState("failed");
          return;
        }
        clip.writeText(text).then(
          () => setState("copied"),
          () => setState("failed"),
        );
      }}
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select and copy" : label}
    </button>
  );
}

/** Tab cycles within the dialog while it is open (it is modal). */
export function keepFocusInside(root: HTMLElement, e: KeyboardEvent) {
  const focusable = [...root.querySelectorAll<HTMLElement>("button:not(:disabled), input, textarea")];
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (!first || !last) return;
  const active = document.activeElement;
  if (!root.contains(active) || (e.shiftKey && active === first) || (!e.shiftKey && active === last)) {
    e.preventDefault();
    (e.shiftKey ? last : first).focus();
  }
}

/**
 * A modal's keys: Escape closes it (unless `busy`), Tab keeps the focus inside `modal`.
 */
export function useModalKeys(modal: RefObject<HTMLElement | null>, busy: boolean, onClose: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !busy) {
        e.preventDefault();
        onClose();
      }
      if (e.key === "Tab" && modal.current) keepFocusInside(modal.current, e);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [modal, busy, onClose]);
}

/**
 * Registers an agent and shows its bearer token once. The token lives only in this dialog's
 * state and is dropped when the dialog closes; the app keeps only its hash.
 */
export function AddAgentDialog({ create, onClose }: Props) {
  const [name, setName] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [busy, setBusy] = useState(false);
  const [agent, setAgent] = useState<NewAgent | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const modal = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const nameId = useId();

  // Focus the name on open; give focus back to whatever opened the dialog on close.
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    input.current?.focus();
    return () => opener?.focus();
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !busy) onClose();
      if (e.key === "Tab" && modal.current) keepFocusInside(modal.current, e);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [busy, onClose]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!AGENT_NAME.test(name)) {
      setInvalid(true);
      input.current?.focus();
      return;
    }
    setBusy(true);
    create(name).then(
      (a) => {
        setBusy(false);
        setAgent(a);
      },
      () => setBusy(false),
    );
  };

  const snippet = agent ? `export COUNTERSIGN_TOKEN=${agent.token}` : "";

  return (
    <div className="modal-backdrop">
      <div className="modal" ref={modal} role="dialog" aria-modal="true" aria-labelledby={titleId}>
        <h2 id={titleId}>Add agent</h2>
        {agent === null ? (
          <form onSubmit={submit} noValidate>
            <label htmlFor={nameId}>Name</label>
            <input
              id={nameId}
              ref={input}
              data-testid="agent-name"
              value={name}
              maxLength={64}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={invalid || undefined}
              onChange={(e) => {
                setName(e.target.value);
                if (AGENT_NAME.test(e.target.value)) setInvalid(false);
              }}
            />
            <p className={invalid ? "field-error" : "field-hint"}>
              1–64 characters: letters, digits, dot, underscore, hyphen.
            </p>
            <div className="modal-buttons">
              <button type="submit" className="btn btn-primary" data-testid="create-agent" disabled={busy}>
                {busy ? "Creating…" : "Create"}
              </button>
              <button type="button" className="btn btn-ghost" onClick={onClose} disabled={busy}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <div className="token-view">
            <p>
              Agent <strong>{agent.name}</strong> created. Its token:
            </p>
            <p className="token-row">
              <code className="token" data-testid="agent-token">
                {agent.token}
              </code>
              <CopyButton text={agent.token} label="Copy token" />
            </p>
            <p className="note warn" role="note">
              ⚠ This token will not be shown again. Only its hash is stored; copy it now.
            </p>
            <p className="token-row">
              <code className="token snippet" data-testid="agent-snippet">
                {snippet}
              </code>
              <CopyButton text={snippet} label="Copy" />
            </p>
            <div className="modal-buttons">
              <button type="button" className="btn btn-primary" onClick={onClose}>
                Done
              </button>
            </div>
          </div>
        )}
      </div>
    </div>
  );
}

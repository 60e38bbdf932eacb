import { useEffect, useId, useRef } from "react";

/** Every key the review desk answers to; the same list the app's key handlers implement (the
 * queue's, and the Team tab's for `c`). */
export const SHORTCUTS: readonly [string, string][] = [
  ["j / k", "next / previous draft in the queue"],
  ["Enter", "open the draft under the cursor"],
  ["a", "approve the open draft (high and critical risk: opens the confirmation; confirm with a click or Enter on it)"],
  ["r", "reject the open draft: type the reason (and an optional suggestion for the agent)"],
  ["e", "edit the open draft before approving it"],
  ["x", "select the low-risk draft under the cursor for a batch approval (again: unselect)"],
  ["A", "approve the selected low-risk drafts: shows their count and targets first"],
  ["/", "search the queue (Esc clears)"],
  ["p", "the policy in force: bands, domains, overrides (a lead edits it there; Esc closes)"],
  ["c", "Team tab: claim the open team draft (\"in review\" by you for the others; j/k, Enter, a, r work there too)"],
  ["?", "this sheet (Esc closes)"],
];

/** The keyboard shortcut sheet (`?`). */
export function ShortcutSheet({ onClose }: { onClose: () => void }) {
  const titleId = useId();
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" || e.key === "?") {
        e.preventDefault();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="shortcuts">
        <h2 id={titleId}>Keyboard</h2>
        <dl className="kv shortcuts">
          {SHORTCUTS.map(([k, what]) => (
            <div key={k} className="shortcut">
              <dt>
                <kbd>{k}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
        <div className="modal-buttons">
          <button type="button" ref={close} className="btn" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

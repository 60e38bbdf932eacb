import { useId, useRef, useState } from "react";
import type { CosignReview } from "../bindings/CosignReview";
import { absolute } from "../lib/time";
import { useModalKeys } from "./AddAgentDialog";
import { ChangeView } from "./ChangeView";
import { FileButton, message, readText } from "./CosignPanel";
import { ImpactPanel } from "./ImpactPanel";
import { RiskPanel } from "./RiskPanel";
import { SafeText } from "./SafeText";

type Props = {
  /** Checks a request file's text and scores its action here. */
  review: (text: string) => Promise<CosignReview>;
  /** Signs it (Rust asks again in a native dialog); resolves to the response file's path. */
  sign: (text: string, actionDigest: string) => Promise<string>;
  onClose: () => void;
};

/**
 * The co-signer's sheet: open a co-sign request file, see the same diff and impact computed
 * here from the action in the file, the risk scored here (a different claimed score is shown
 * as a loud mismatch), and add this approver's signature over the same decision body.
 */
export function CosignSheet({ review, sign, onClose }: Props) {
  const titleId = useId();
  const modal = useRef<HTMLDivElement>(null);
  const [text, setText] = useState<string | null>(null);
  const [shown, setShown] = useState<CosignReview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [written, setWritten] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useModalKeys(modal, busy, onClose);

  const open = (file: File | undefined) => {
    if (!file) return;
    setShown(null);
    setWritten(null);
    setError(null);
    setBusy(true);
    readText(file)
      .then((t) => {
        setText(t);
        return review(t);
      })
      .then(setShown, (e: unknown) => setError(message(e)))
      .finally(() => setBusy(false));
  };
  const doSign = () => {
    if (text === null || shown === null) return;
    setBusy(true);
    setError(null);
    sign(text, shown.request.action_digest)
      .then(setWritten, (e: unknown) => setError(message(e)))
      .finally(() => setBusy(false));
  };
  const r = shown?.request;

  return (
    <div className="modal-backdrop">
      <div ref={modal} className="modal cosign-sheet" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid="cosign-sheet">
        <h2 id={titleId}>Co-sign a request</h2>
        <FileButton label="Open co-sign request…" testId="cosign-open" disabled={busy} onFile={open} />
        {error && (
          <p className="note warn" data-testid="cosign-error" role="alert">
            <SafeText text={error} inline />
          </p>
        )}
        {shown && r && (
          <>
            {shown.risk_mismatch && (
              <div className="hidden-banner" data-testid="risk-mismatch" role="alert">
                ⚠ <SafeText text={shown.risk_mismatch} inline />
              </div>
            )}
            <dl className="kv meta">
              <dt>Requested by</dt>
              <dd data-testid="cosign-requested-by">
                <SafeText text={shown.requested_by} inline />
              </dd>
              <dt>Agent</dt>
              <dd>
                <SafeText text={r.agent} inline />
              </dd>
              <dt>Summary</dt>
              <dd>
                <SafeText text={r.action.summary} inline />
              </dd>
              <dt>Target</dt>
              <dd>
                <code>
                  <SafeText text={r.action.target} inline />
                </code>
              </dd>
              <dt>Action digest</dt>
              <dd>
                <code data-testid="cosign-digest">{r.action_digest}</code>
              </dd>
              <dt>Sign by</dt>
              <dd>{absolute(shown.exp)}</dd>
            </dl>
            <div className="panels">
              <ImpactPanel items={shown.review.impact} />
              <RiskPanel risk={shown.risk} />
            </div>
            <section className="panel change" aria-label="Change">
              <ChangeView change={shown.review.change} />
            </section>
          </>
        )}
        {written && (
          <p className="note" data-testid="cosign-written">
            Signed. Response written to <code>{written}</code>; send it back to the requester.
          </p>
        )}
        <div className="modal-buttons">
          <button
            type="button"
            className="btn btn-approve"
            data-testid="cosign-sign"
            disabled={busy || shown === null || written !== null}
            onClick={doSign}
          >
            Co-sign
          </button>
          <button type="button" className="btn" data-testid="cosign-close" disabled={busy} onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

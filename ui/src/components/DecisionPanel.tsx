import { useMemo } from "react";
import type { DecisionBody } from "../bindings/DecisionBody";
import type { DecisionInfo } from "../bindings/DecisionInfo";
import { absolute } from "../lib/time";
import { SafeText } from "./SafeText";

/**
 * The signed body inside a DSSE envelope (`payload` is standard base64 of its JSON), or null
 * when it cannot be read. Display only: the gate, not the window, verifies signatures.
 */
export function signedBody(decision: DecisionInfo): DecisionBody | null {
  try {
    const bytes = Uint8Array.from(atob(decision.envelope.payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as DecisionBody;
  } catch {
    return null;
  }
}

/**
 * The signed decision: verdict, who signed with which key, why, and when. When the approver
 * edited the draft, what was signed differs from the draft shown above: it is shown here.
 */
export function DecisionPanel({ decision, draftDigest }: { decision: DecisionInfo; draftDigest?: string }) {
  const body = useMemo(() => signedBody(decision), [decision]);
  const edited =
    body !== null &&
    typeof body.action_digest === "string" &&
    typeof body.action === "object" &&
    body.action !== null &&
    draftDigest !== undefined &&
    body.action_digest !== draftDigest;
  return (
    <section className={`panel decision verdict-${decision.verdict}`} data-testid="decision" aria-labelledby="decision-h">
      <h3 id="decision-h">Decision</h3>
      <dl className="kv">
        <dt>Verdict</dt>
        <dd className="verdict" data-testid="decision-verdict">
          {decision.verdict === "approved" ? "✓ approved" : "✗ rejected"}
        </dd>
        <dt>Approver</dt>
        <dd>
          <SafeText text={decision.approver} inline /> <code className="keyid">{decision.keyid}</code>
        </dd>
        <dt>Reason</dt>
        <dd>{decision.reason === null ? <span className="muted">(none)</span> : <SafeText text={decision.reason} />}</dd>
        <dt>Decided</dt>
        <dd>{absolute(decision.decided_at)}</dd>
        <dt>Signatures</dt>
        <dd>
          {decision.envelope.signatures.length} ({decision.envelope.payloadType})
        </dd>
      </dl>
      {edited && body && (
        <div className="signed-edit" data-testid="signed-edit">
          <p className="note warn">
            Approved with edits: the agent received this action (<code>{body.action_digest}</code>), not the draft above.
          </p>
          <pre className="code-block">
            <SafeText text={JSON.stringify(body.action, null, 2)} />
          </pre>
        </div>
      )}
    </section>
  );
}

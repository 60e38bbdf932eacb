import type { DecisionInfo } from "../bindings/DecisionInfo";
import { absolute } from "../lib/time";
import { SafeText } from "./SafeText";

/** The signed decision: verdict, who signed with which key, why, and when. */
export function DecisionPanel({ decision }: { decision: DecisionInfo }) {
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
    </section>
  );
}

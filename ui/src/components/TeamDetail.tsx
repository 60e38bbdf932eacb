import type { SignOutcome } from "../bindings/SignOutcome";
import type { TeamDraftDetail } from "../bindings/TeamDraftDetail";
import { useRef } from "react";
import { grantFlags, grantPointers } from "../lib/grants";
import { useLocate } from "../lib/locate";
import { requirementText } from "../lib/team";
import { absolute, age, untilExpiry } from "../lib/time";
import { ChangeView } from "./ChangeView";
import { DecidePanel, type DecideCommand } from "./DecidePanel";
import { DraftWarnings, markdownOf } from "./Detail";
import { ImpactPanel } from "./ImpactPanel";
import { RiskBadge } from "./RiskBadge";
import { RiskPanel } from "./RiskPanel";
import { SafeText } from "./SafeText";

type Props = {
  detail: TeamDraftDetail;
  /** This approver's roster name (to tell "you signed" and "you review it"). */
  me: string;
  now: number;
  /** A request is in flight: decision buttons are disabled. */
  busy: boolean;
  /** What the last decision here did, to say so until the draft leaves the queue. */
  outcome?: SignOutcome | null;
  /** The draft left the team's queue (decided or expired elsewhere). */
  gone?: string | null;
  command?: DecideCommand | null;
  onApprove: (id: string, actionDigest: string) => void;
  onReject: (id: string, actionDigest: string, reason: string) => void;
  onClaim: (id: string) => void;
  onRelease: (id: string) => void;
};

/** The outcome of this approver's signature, in words. */
export function outcomeText(o: SignOutcome): string {
  switch (o.outcome) {
    case "released":
      return `Approved: released to the agent, signed by ${o.signers.join(" + ")}.`;
    case "awaiting":
      return `Signed (${o.signers.join(" + ")}); awaiting more signatures: ${o.missing}.`;
    case "rejected":
      return "Rejected: the signed rejection was released to the agent.";
  }
}

/**
 * Right pane of the Team view: the same panels as a local draft (impact, risk, change) from
 * the server's detail, who signed and who reviews it, and Approve / Reject. Approving signs
 * here (Rust recomputes the digest first) and uploads only the signature.
 */
export function TeamDetail({
  detail,
  me,
  now,
  busy,
  outcome,
  gone,
  command,
  onApprove,
  onReject,
  onClaim,
  onRelease,
}: Props) {
  const d = detail.detail;
  const s = d.summary;
  const team = detail.draft;
  const digest = d.action_digest;
  const signedByMe = team.signers.includes(me);
  const claimedByMe = team.claim?.approver === me;
  const cosigning = detail.awaiting != null;
  const open = !gone;
  const root = useRef<HTMLElement>(null);
  const { focus, locate } = useLocate(root, d.risk, d.review);

  return (
    <article ref={root} className="detail" data-testid="team-detail" data-id={s.id} aria-label="Team draft">
      <DraftWarnings action={d.action} />
      <header className="detail-head">
        <RiskBadge score={s.score} level={s.level} />
        <span className="detail-kind">{s.kind}</span>
        <span className={`status-chip status-${gone ?? "pending"}`} data-testid="detail-status">
          {gone ?? "pending"}
        </span>
        <h2 className="detail-summary" data-pointer="/summary">
          <SafeText text={d.action.summary} inline />
        </h2>
      </header>

      <section className="panel team-status" aria-labelledby="team-status-h" data-testid="team-status">
        <h3 id="team-status-h">Team review</h3>
        <dl className="kv">
          <dt>Needs</dt>
          <dd data-testid="team-needs">
            {requirementText(team.requirement)}
            {team.required.approvals > 1 && ` · ${team.required.approvals} signatures`}
            {team.required.lead && " · one from a lead"}
          </dd>
          <dt>Signed by</dt>
          <dd data-testid="team-signers">
            {team.signers.length === 0 ? <span className="muted">nobody yet</span> : team.signers.join(", ")}
          </dd>
          <dt>In review</dt>
          <dd data-testid="team-claim">
            {team.claim ? (
              <>
                by {claimedByMe ? "you" : team.claim.approver}{" "}
                <span className="muted">(until {absolute(team.claim.until)})</span>
              </>
            ) : (
              <span className="muted">nobody</span>
            )}
            {open &&
              (claimedByMe ? (
                <button
                  type="button"
                  className="btn btn-ghost btn-tiny"
                  data-testid="team-release"
                  disabled={busy}
                  onClick={() => onRelease(s.id)}
                >
                  Release
                </button>
              ) : (
                !team.claim && (
                  <button
                    type="button"
                    className="btn btn-ghost btn-tiny"
                    data-testid="team-claim-button"
                    title="show the others you are reviewing it (c)"
                    disabled={busy}
                    onClick={() => onClaim(s.id)}
                  >
                    Claim
                  </button>
                )
              ))}
          </dd>
        </dl>
      </section>

      <dl className="kv meta">
        <dt>Agent</dt>
        <dd>
          <SafeText text={s.agent} inline />
        </dd>
        <dt>Kind</dt>
        <dd>
          <code>{d.action.kind}</code>
        </dd>
        <dt>Target</dt>
        <dd data-pointer="/target">
          <code>
            <SafeText text={d.action.target} inline />
          </code>
        </dd>
        <dt>Submitted</dt>
        <dd>
          {absolute(s.created_at)} <span className="muted">({age(now, s.created_at)})</span>
        </dd>
        <dt>Expires</dt>
        <dd>
          {absolute(s.expires_at)} <span className="muted">({untilExpiry(now, s.expires_at)})</span>
        </dd>
        <dt>Draft id</dt>
        <dd>
          <code>{s.id}</code>
        </dd>
        <dt>Action digest</dt>
        <dd>
          <code className="digest" data-testid="action-digest">
            {digest}
          </code>
        </dd>
      </dl>

      <div className="panels">
        <ImpactPanel items={d.review.impact} />
        <RiskPanel risk={d.risk} onLocate={locate} />
      </div>

      <section className="panel change" data-testid="change" data-pointer="/payload" aria-labelledby="team-change-h">
        <h3 id="team-change-h">Change</h3>
        <ChangeView
          change={d.review.change}
          grantFlags={grantFlags(d)}
          grantPointers={grantPointers(d)}
          markdown={markdownOf(d.action)}
          focus={focus}
        />
      </section>

      {outcome && (
        <p className="note" data-testid="team-outcome" aria-live="polite">
          {outcomeText(outcome)}
        </p>
      )}
      {gone && !outcome && (
        <p className="note" data-testid="team-gone">
          This draft left the team's queue ({gone}).
        </p>
      )}
      {open && signedByMe && (
        <p className="note" data-testid="team-signed-by-me">
          You signed this approval; it waits for {team.required.lead ? "a lead" : "another approver"}.
        </p>
      )}
      {open && cosigning && !signedByMe && (
        <p className="note" data-testid="team-cosign-note">
          {team.signers.join(", ")} approved it: approving adds your signature to the same decision.
        </p>
      )}

      {open && (
        <div className="decide-bar">
          <DecidePanel
            key={s.id}
            level={d.risk.level}
            expired={now >= s.expires_at}
            busy={busy}
            approveBlocked={signedByMe}
            approveLabel={cosigning ? "Co-sign approval" : "Approve"}
            command={command}
            onApprove={() => onApprove(s.id, digest)}
            onReject={(reason) => onReject(s.id, digest, reason)}
          />
        </div>
      )}
    </article>
  );
}

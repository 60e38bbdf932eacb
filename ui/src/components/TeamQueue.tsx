import { useEffect, useRef } from "react";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamLink } from "../bindings/TeamLink";
import { connectionText, requirementText } from "../lib/team";
import { age, timeLeft } from "../lib/time";
import { RiskBadge } from "./RiskBadge";
import { SafeText } from "./SafeText";

type Props = {
  link: TeamLink;
  /** Already ordered; `null` until the first list arrives. */
  drafts: TeamDraft[] | null;
  openId: string | null;
  cursorId: string | null;
  now: number;
  onOpen: (id: string) => void;
  onLeave: () => void;
};

/** Who signed and who reviews, in words: "signed: ana · in review by bo". */
export function teamProgress(d: TeamDraft): string[] {
  const out: string[] = [];
  if (d.signers.length > 0) out.push(`signed: ${d.signers.join(", ")}`);
  if (d.claim) out.push(`in review by ${d.claim.approver}`);
  if (d.escalated) out.push("waited unclaimed");
  return out;
}

/** Left pane of the Team view: the link's state, then the team's pending drafts, live. */
export function TeamQueue({ link, drafts, openId, cursorId, now, onOpen, onLeave }: Props) {
  const rows = useRef(new Map<string, HTMLButtonElement>());
  useEffect(() => {
    if (cursorId) rows.current.get(cursorId)?.focus({ preventScroll: false });
  }, [cursorId]);

  return (
    <nav className="queue team-queue" aria-label="Team drafts">
      <div className="team-head" data-testid="team-head">
        <div className="team-name">
          Team <strong data-testid="team-name">{link.team}</strong>{" "}
          <span className="muted">
            as {link.approver} ({link.role})
          </span>
        </div>
        <div className="team-link">
          <span
            className={`team-conn team-conn-${link.connection}`}
            data-testid="team-connection"
            data-state={link.connection}
            title={link.error ?? link.server}
          >
            ● {connectionText(link)}
          </span>
          <button type="button" className="btn btn-ghost btn-tiny" data-testid="team-leave" onClick={onLeave}>
            Leave
          </button>
        </div>
        <div className="muted team-server" title={`roster serial ${link.roster_serial}`}>
          <code>{link.server}</code>
        </div>
        {link.error && link.connection !== "live" && (
          <p className="note warn team-error" data-testid="team-link-error">
            <SafeText text={link.error} inline />
          </p>
        )}
      </div>
      <div className="queue-scroll">
        {drafts === null ? (
          <p className="empty">Loading the team's drafts…</p>
        ) : drafts.length === 0 ? (
          <p className="empty" data-testid="team-empty">
            Nothing is waiting for the team.
          </p>
        ) : (
          <ul className="queue-list" aria-label={`${drafts.length} team drafts`}>
            {drafts.map((d) => {
              const s = d.summary;
              const progress = teamProgress(d);
              return (
                <li key={s.id}>
                  <button
                    type="button"
                    ref={(el) => {
                      if (el) rows.current.set(s.id, el);
                      else rows.current.delete(s.id);
                    }}
                    className={
                      "queue-item" + (s.id === openId ? " is-open" : "") + (s.id === cursorId ? " is-cursor" : "")
                    }
                    data-testid="team-item"
                    data-id={s.id}
                    aria-current={s.id === openId ? "true" : undefined}
                    onClick={() => onOpen(s.id)}
                  >
                    <span className="qi-line">
                      <RiskBadge score={s.score} level={s.level} />
                      <span className="qi-agent">
                        <SafeText text={s.agent} inline />
                      </span>
                      <span className="qi-kind">{s.kind}</span>
                      <span className="qi-time">
                        {age(now, s.created_at)} ·{" "}
                        <span className={s.expires_at - now < 120 ? "qi-expiry soon" : "qi-expiry"}>
                          {timeLeft(now, s.expires_at)}
                        </span>
                      </span>
                    </span>
                    <span className="qi-summary">
                      <SafeText text={s.summary} inline />
                    </span>
                    <span className="qi-team">
                      <span className={`team-req team-req-${d.requirement}`} data-testid="team-requirement">
                        needs {requirementText(d.requirement)}
                      </span>
                      {progress.map((p) => (
                        <span key={p} className="team-progress" data-testid="team-progress">
                          <SafeText text={p} inline />
                        </span>
                      ))}
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </div>
      <p className="queue-hint muted">
        <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>a</kbd> approve · <kbd>r</kbd> reject ·{" "}
        <kbd>c</kbd> claim
      </p>
    </nav>
  );
}

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Action } from "../bindings/Action";
import type { ActionDetail } from "../bindings/ActionDetail";
import type { CosignOutcome } from "../bindings/CosignOutcome";
import * as api from "../lib/api";
import { grantFlags, grantPointers } from "../lib/grants";
import { useLocate } from "../lib/locate";
import { countHidden } from "../lib/hidden";
import { countLookalikes } from "../lib/lookalike";
import { absolute, age, untilExpiry } from "../lib/time";
import { ChangeView } from "./ChangeView";
import { CosignPanel } from "./CosignPanel";
import { DecidePanel, type DecideCommand } from "./DecidePanel";
import { EditPanel, type EditState } from "./EditPanel";
import { DecisionPanel } from "./DecisionPanel";
import { ImpactPanel } from "./ImpactPanel";
import { RiskBadge } from "./RiskBadge";
import { RiskPanel } from "./RiskPanel";
import { SafeText } from "./SafeText";

type Props = {
  detail: ActionDetail;
  now: number;
  busy: boolean;
  onApprove: (id: string, actionDigest: string) => void;
  /** Approve the reviewer's edit; `actionDigest` is the digest shown before editing. */
  onApproveEdited: (id: string, actionDigest: string, action: Action) => void;
  onReject: (id: string, actionDigest: string, reason: string) => void;
  /** Approve as the first signer of a draft that needs a lead this approver is not. */
  onApproveForCosign?: (id: string, actionDigest: string) => void;
  /** Co-sign file operations for a draft awaiting co-signature. */
  cosignFiles?: {
    exportRequest: (id: string) => Promise<string>;
    importResponse: (text: string) => Promise<CosignOutcome>;
    onChanged: () => void;
  };
  /** A keyboard command from the app (`a`, `r`, `e`), with a counter so repeats are seen. */
  command?: { key: "approve" | "reject" | "edit"; n: number } | null;
};

/** The Markdown body of a post, for the optional preview; undefined for other kinds. */
export function markdownOf(action: Action): string | undefined {
  if (action.kind !== "message.post") return undefined;
  const p = action.payload;
  if (p === null || typeof p !== "object" || Array.isArray(p)) return undefined;
  const body = (p as Record<string, unknown>).body;
  return typeof body === "string" ? body : undefined;
}

/**
 * Banners for hidden characters and look-alike letters anywhere in what the agent sent
 * (summary, target, payload and its claimed current state).
 */
export function DraftWarnings({ action }: { action: Action }) {
  const hidden = useMemo(() => countHidden(action), [action]);
  const lookalikes = useMemo(() => countLookalikes(action), [action]);
  return (
    <>
      {hidden.total > 0 && (
        <div className="hidden-banner" data-testid="hidden-banner">
          ⚠ This draft contains {hidden.total} hidden character{hidden.total === 1 ? "" : "s"} (
          {hidden.bidi} bidirectional, {hidden.invisible} invisible, {hidden.control} control). They are
          shown as <span className="hidden-char">⟨…⟩</span> badges below.
        </div>
      )}
      {lookalikes.mixed + lookalikes.ansi > 0 && (
        <div className="hidden-banner" data-testid="lookalike-banner">
          ⚠ This draft contains {lookalikes.mixed} word{lookalikes.mixed === 1 ? "" : "s"} mixing Latin with Cyrillic or
          Greek letters and {lookalikes.ansi} terminal escape sequence{lookalikes.ansi === 1 ? "" : "s"}; they are marked
          below.
        </div>
      )}
    </>
  );
}

/** Right pane: everything about one draft, and the decision controls while it is pending. */
export function Detail({
  detail,
  now,
  busy,
  onApprove,
  onApproveEdited,
  onReject,
  onApproveForCosign,
  cosignFiles,
  command,
}: Props) {
  const s = detail.summary;
  const flags = useMemo(() => grantFlags(detail), [detail]);
  const pending = s.status === "pending";
  const digest = detail.action_digest;
  const [editingState, setEditing] = useState(false);
  // Editing ends with the decision: a decided draft shows the agent's draft and the decision.
  const editing = editingState && pending;
  const [edit, setEdit] = useState<EditState | null>(null);
  const [decideCommand, setDecideCommand] = useState<DecideCommand | null>(null);
  // A command given before this draft was opened is not for it.
  const seenCommand = useRef(command?.n ?? null);
  useEffect(() => {
    if (!command || !pending || command.n === seenCommand.current) return;
    seenCommand.current = command.n;
    if (command.key === "edit") setEditing(true);
    else setDecideCommand({ key: command.key, n: command.n });
  }, [command, pending]);
  const stopEditing = () => {
    setEditing(false);
    setEdit(null);
  };
  // While editing, everything below describes the edit Rust checked, not the draft.
  const preview = editing ? edit?.preview ?? null : null;
  const risk = preview?.risk ?? detail.risk;
  const review = preview?.review ?? detail.review;
  const shownAction = preview && edit?.action ? edit.action : detail.action;
  const editBlocked = editing && (edit === null || edit.preview === null);
  // A draft that needs a lead this approver is not: approving signs first and waits.
  const viaCosign = !editing && detail.cosign_needed != null && onApproveForCosign !== undefined;
  const awaitingCosign = detail.cosign != null;
  const cosignWho = detail.cosign_needed?.lead === false ? "a second approver" : "a lead";
  const root = useRef<HTMLElement>(null);
  const { focus, locate } = useLocate(root, risk, review);
  const fetchLines = useCallback((from: number, to: number) => api.diffLines(s.id, digest, from, to), [s.id, digest]);

  return (
    <article ref={root} className="detail" data-testid="detail" data-id={s.id} aria-label="Draft">
      <DraftWarnings action={detail.action} />
      <header className="detail-head">
        <RiskBadge score={s.score} level={s.level} />
        <span className="detail-kind">{s.kind}</span>
        <span className={`status-chip status-${s.status}`} data-testid="detail-status">
          {s.status}
        </span>
        <h2 className="detail-summary" data-pointer="/summary">
          <SafeText text={detail.action.summary} inline />
        </h2>
      </header>

      <dl className="kv meta">
        <dt>Agent</dt>
        <dd>
          <SafeText text={s.agent} inline />
        </dd>
        <dt>Kind</dt>
        <dd>
          <code>{detail.action.kind}</code>
        </dd>
        <dt>Target</dt>
        <dd data-pointer="/target">
          <code>
            <SafeText text={detail.action.target} inline />
          </code>
        </dd>
        <dt>Submitted</dt>
        <dd>
          {absolute(s.created_at)} <span className="muted">({age(now, s.created_at)})</span>
        </dd>
        <dt>Expires</dt>
        <dd>
          {absolute(s.expires_at)}
          {pending && <span className="muted"> ({untilExpiry(now, s.expires_at)})</span>}
        </dd>
        {detail.callback_url !== null && (
          <>
            <dt>Callback</dt>
            <dd>
              <code>
                <SafeText text={detail.callback_url} inline />
              </code>
            </dd>
          </>
        )}
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

      {editing && (
        <>
          <EditPanel key={s.id} id={s.id} original={detail.action} onChange={setEdit} onCancel={stopEditing} />
          <p className="note edit-status" data-testid="edit-status" aria-live="polite">
            {edit?.error ? (
              <span className="field-error" data-testid="edit-error">
                <SafeText text={edit.error} inline />
              </span>
            ) : edit?.preview ? (
              <>
                Showing your edit. It will be signed as <code data-testid="edit-digest">{edit.preview.action_digest}</code>
                {edit.preview.action_digest === digest ? " (unchanged)" : ""}.
              </>
            ) : (
              "Checking your edit…"
            )}
          </p>
        </>
      )}

      <div className="panels">
        <ImpactPanel items={review.impact} />
        <RiskPanel risk={risk} onLocate={locate} />
      </div>

      <section className="panel change" data-testid="change" data-pointer="/payload" aria-labelledby="change-h">
        <h3 id="change-h">Change{preview ? " (your edit)" : ""}</h3>
        <ChangeView
          change={review.change}
          grantFlags={preview ? undefined : flags}
          grantPointers={grantPointers({ action: shownAction })}
          markdown={markdownOf(shownAction)}
          focus={focus}
          fetchLines={fetchLines}
        />
      </section>

      {pending && detail.cosign && cosignFiles && (
        <CosignPanel
          id={s.id}
          cosign={detail.cosign}
          exportRequest={cosignFiles.exportRequest}
          importResponse={cosignFiles.importResponse}
          onChanged={cosignFiles.onChanged}
        />
      )}
      {pending && detail.cosign_needed && !detail.cosign && (
        <p className="note" data-testid="cosign-needed">
          {detail.cosign_needed.lead
            ? "The policy requires a lead for this draft and your key is not pinned as one: approving signs it and keeps it pending until a lead co-signs."
            : "The policy requires two approvers for this draft: approving signs it and keeps it pending until a second approver co-signs."}
        </p>
      )}

      {detail.decision && <DecisionPanel decision={detail.decision} draftDigest={digest} />}
      {!detail.decision && s.status === "expired" && (
        <section className="panel decision" data-testid="decision">
          <h3>Decision</h3>
          <p>Expired without a decision; the agent was told it is not approved.</p>
        </section>
      )}

      {pending && (
        <div className="decide-bar">
          <DecidePanel
            key={s.id}
            level={risk.level}
            expired={now >= s.expires_at}
            busy={busy}
            approveBlocked={editBlocked || awaitingCosign}
            approveLabel={editing ? "Approve edit" : viaCosign ? `Approve, ask ${cosignWho} to co-sign` : "Approve"}
            command={decideCommand}
            onEdit={editing || awaitingCosign ? undefined : () => setEditing(true)}
            onApprove={() => {
              if (editing && edit?.action && edit.preview) onApproveEdited(s.id, digest, edit.action);
              else if (viaCosign) onApproveForCosign?.(s.id, digest);
              else if (!editing) onApprove(s.id, digest);
            }}
            onReject={(reason) => onReject(s.id, digest, reason)}
          />
        </div>
      )}
    </article>
  );
}

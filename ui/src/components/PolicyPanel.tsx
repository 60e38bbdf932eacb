import { useEffect, useId, useRef, useState } from "react";
import type { ApiError } from "../bindings/ApiError";
import type { Band } from "../bindings/Band";
import type { PolicyInForce } from "../bindings/PolicyInForce";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import type { PolicyView } from "../bindings/PolicyView";
import type { Requirement } from "../bindings/Requirement";
import { toApiError } from "../lib/api";
import { bandRange, REQUIREMENT_LABEL, REQUIREMENT_MEANING, thresholdFields, withNextSerial } from "../lib/policy";
import { useModalKeys } from "./AddAgentDialog";
import { shortKeyId } from "./Header";

type Props = {
  /** What Rust says is in force; `null` while loading. */
  view: PolicyView | null;
  /** Rescores the last drafts under `text` (Rust computes everything). */
  preview: (text: string) => Promise<PolicyPreview>;
  /** Signs `text` with the local lead key and puts it in force; resolves with the new view. */
  sign: (text: string) => Promise<PolicyView>;
  onClose: () => void;
};

const ORDER: readonly Requirement[] = [
  "auto_approve",
  "one_approver",
  "two_approvers",
  "lead_required",
  "blocked",
];

function BandsLine({ bands }: { bands: Band[] }) {
  return (
    <span className="bands-line">
      {bands.map((b) => (
        <span key={b.from} className={`band-chip band-${b.requirement}`}>
          {bandRange(b)} {REQUIREMENT_LABEL[b.requirement].toLowerCase()}
        </span>
      ))}
    </span>
  );
}

function List({ items, none, testId }: { items: string[]; none: string; testId: string }) {
  if (items.length === 0) return <p className="muted">{none}</p>;
  return (
    <ul className="policy-list" data-testid={testId}>
      {items.map((d) => (
        <li key={d}>
          <code>{d}</code>
        </li>
      ))}
    </ul>
  );
}

/** The policy in force, read-only: bands and what they mean, domains, patterns, overrides. */
export function PolicyInForceView({ p, path }: { p: PolicyInForce; path?: string }) {
  return (
    <>
      <dl className="kv policy-meta">
        <dt>Serial</dt>
        <dd data-testid="policy-serial">{p.policy.serial}</dd>
        <dt>SHA-256</dt>
        <dd>
          <code className="wrap">{p.sha256}</code>
        </dd>
        <dt>Signed by</dt>
        <dd data-testid="policy-signers">
          {p.signers.map((k, i) => (
            <span key={k} title={k}>
              {p.signer_names[i] || "?"} <code className="keyid">{shortKeyId(k)}</code>
              {i < p.signers.length - 1 ? ", " : ""}
            </span>
          ))}
        </dd>
        {path && (
          <>
            <dt>File</dt>
            <dd>
              <code className="wrap">{path}</code>
            </dd>
          </>
        )}
      </dl>
      <h3>Bands</h3>
      <table className="policy-table" data-testid="policy-bands">
        <thead>
          <tr>
            <th>Scores</th>
            <th>Requirement</th>
            <th>What it means</th>
          </tr>
        </thead>
        <tbody>
          {p.bands.map((b) => (
            <tr key={b.from}>
              <td className="num">{bandRange(b)}</td>
              <td>
                <span className={`band-chip band-${b.requirement}`}>{REQUIREMENT_LABEL[b.requirement]}</span>
              </td>
              <td>{REQUIREMENT_MEANING[b.requirement]}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="policy-columns">
        <section>
          <h3>Organisation domains</h3>
          <List
            items={p.policy.org_domains}
            none="None: recipients and hosts cannot be judged inside or outside the organisation."
            testId="policy-domains"
          />
        </section>
        <section>
          <h3>Sensitive patterns</h3>
          <List items={p.policy.sensitive} none="None beyond the built-in ones." testId="policy-sensitive" />
        </section>
      </div>
      <h3>Overrides</h3>
      {p.overrides.length === 0 ? (
        <p className="muted">None: the bands above apply to every agent and kind.</p>
      ) : (
        <table className="policy-table" data-testid="policy-overrides">
          <thead>
            <tr>
              <th>For</th>
              <th>Sets</th>
              <th>Bands then</th>
            </tr>
          </thead>
          <tbody>
            {p.overrides.map((o) => (
              <tr key={`${o.scope}:${o.name}`}>
                <td>
                  {o.scope} <code>{o.name}</code>
                </td>
                <td>
                  <code>{thresholdFields(o.set)}</code>
                </td>
                <td>
                  <BandsLine bands={o.bands} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** What the preview found: counts per band before → after, and the drafts that move. */
export function PreviewResult({ preview }: { preview: PolicyPreview }) {
  const box = useRef<HTMLDivElement>(null);
  // A new preview scrolls into view: it is what the lead must read before signing.
  useEffect(() => box.current?.scrollIntoView?.({ block: "nearest" }), [preview]);
  return (
    <div className="policy-preview" ref={box} data-testid="policy-preview-result">
      <p>
        Rescored the last <strong>{preview.scored}</strong> drafts:{" "}
        <strong data-testid="policy-moves-count">{preview.moves.length}</strong> move between bands
        {preview.rescored > 0 ? `, ${preview.rescored} get another score` : ""}.
      </p>
      <table className="policy-table compact">
        <thead>
          <tr>
            <th>Requirement</th>
            <th className="num">Now</th>
            <th className="num">After</th>
          </tr>
        </thead>
        <tbody>
          {ORDER.map((r) => (
            <tr key={r}>
              <td>{REQUIREMENT_LABEL[r]}</td>
              <td className="num">{preview.before[r]}</td>
              <td className="num">{preview.after[r]}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {preview.moves.length > 0 && (
        <div className="policy-moves">
          <table className="policy-table" data-testid="policy-moves">
            <thead>
              <tr>
                <th>Draft</th>
                <th>Agent</th>
                <th>Kind</th>
                <th className="num">Score</th>
                <th>Requirement</th>
              </tr>
            </thead>
            <tbody>
              {preview.moves.map((m) => (
                <tr key={m.id}>
                  <td title={m.id}>
                    <code>{m.id.slice(0, 8)}</code>
                  </td>
                  <td>{m.agent}</td>
                  <td>
                    <code>{m.kind}</code>
                  </td>
                  <td className="num">
                    {m.score_old === m.score_new ? m.score_old : `${m.score_old} → ${m.score_new}`}
                  </td>
                  <td>
                    {REQUIREMENT_LABEL[m.requirement_old]} → <strong>{REQUIREMENT_LABEL[m.requirement_new]}</strong>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/**
 * The lead's editor: the TOML text, a preview computed by Rust, then "Sign and apply" — enabled
 * only once the text on screen is the text previewed.
 */
function PolicyEditor({
  initial,
  preview,
  sign,
  onSigned,
  onBusy,
}: {
  initial: string;
  preview: Props["preview"];
  sign: Props["sign"];
  onSigned: () => void;
  onBusy: (busy: boolean) => void;
}) {
  const [text, setText] = useState(initial);
  const [result, setResult] = useState<{ text: string; preview: PolicyPreview } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const textId = useId();
  useEffect(() => area.current?.focus(), []);

  const run = (work: Promise<void>) => {
    setBusy(true);
    onBusy(true);
    setError(null);
    work
      .catch((e: unknown) => setError(toApiError(e)))
      .finally(() => {
        setBusy(false);
        onBusy(false);
      });
  };
  const current = result !== null && result.text === text;
  return (
    <section className="policy-editor" aria-label="Edit the policy">
      <label htmlFor={textId} className="field-label">
        policy.toml (raise <code>serial</code> with every change)
      </label>
      <textarea
        id={textId}
        ref={area}
        className="policy-text"
        data-testid="policy-text"
        spellCheck={false}
        rows={10}
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      {error && (
        <p className="policy-error" role="alert" data-testid="policy-error">
          {error.message}
        </p>
      )}
      <div className="modal-buttons">
        <button
          type="button"
          className="btn"
          data-testid="policy-preview"
          disabled={busy}
          onClick={() => run(preview(text).then((p) => setResult({ text, preview: p })))}
        >
          Preview changes
        </button>
        <button
          type="button"
          className="btn btn-primary"
          data-testid="policy-sign"
          disabled={busy || !current}
          title={current ? "sign with your lead key and put it in force" : "preview this text first"}
          onClick={() => run(sign(text).then(onSigned))}
        >
          Sign and apply
        </button>
      </div>
      {result && !current && <p className="muted">The text changed since the preview: preview it again.</p>}
      {result && current && <PreviewResult preview={result.preview} />}
    </section>
  );
}

/** The policy view (header button or `p`): everyone reads it; a lead edits, previews and signs. */
export function PolicyPanel({ view, preview, sign, onClose }: Props) {
  const titleId = useId();
  const modal = useRef<HTMLDivElement>(null);
  const close = useRef<HTMLButtonElement>(null);
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [signed, setSigned] = useState(false);

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    close.current?.focus();
    return () => opener?.focus();
  }, []);
  useModalKeys(modal, busy, onClose);

  const inForce = view?.in_force;
  return (
    <div className="modal-backdrop">
      <div
        ref={modal}
        className="modal policy-modal"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        data-testid="policy-view"
      >
        <h2 id={titleId}>Policy</h2>
        {view === null ? (
          <p className="muted">Loading…</p>
        ) : inForce && editing ? (
          // While editing, the policy in force folds away so the editor and its preview fit.
          <details className="policy-folded">
            <summary>
              The policy in force: serial {inForce.policy.serial}
            </summary>
            <PolicyInForceView p={inForce} path={view.path} />
          </details>
        ) : inForce ? (
          <PolicyInForceView p={inForce} path={view.path} />
        ) : (
          <p data-testid="policy-none">
            No policy is in force: every draft waits for one approver, and scoring knows no organisation
            domains.
          </p>
        )}
        {signed && !editing && (
          <p className="policy-signed" role="status" data-testid="policy-signed">
            Signed and in force.
          </p>
        )}
        {view &&
          (view.editable ? (
            editing ? (
              <PolicyEditor
                initial={withNextSerial(inForce?.text ?? "serial = 1\n")}
                preview={preview}
                sign={sign}
                onBusy={setBusy}
                onSigned={() => {
                  setEditing(false);
                  setSigned(true);
                }}
              />
            ) : (
              <p className="policy-edit-line">
                Your key is pinned as a lead: you may change this policy.{" "}
                <button
                  type="button"
                  className="btn btn-small"
                  data-testid="policy-edit"
                  onClick={() => {
                    setSigned(false);
                    setEditing(true);
                  }}
                >
                  Edit
                </button>
              </p>
            )
          ) : (
            <p className="policy-read-only" data-testid="policy-read-only">
              {view.read_only_reason ?? "Read-only."}
            </p>
          ))}
        <div className="modal-buttons">
          <button type="button" ref={close} className="btn" disabled={busy} onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}

import { useState } from "react";
import type { ApiError } from "../bindings/ApiError";
import type { CosignInfo } from "../bindings/CosignInfo";
import type { CosignOutcome } from "../bindings/CosignOutcome";
import { absolute } from "../lib/time";
import { SafeText } from "./SafeText";

type Props = {
  id: string;
  cosign: CosignInfo;
  /** Writes the request file; resolves to its path. */
  exportRequest: (id: string) => Promise<string>;
  /** Imports a response file's text. */
  importResponse: (text: string) => Promise<CosignOutcome>;
  /** Something changed (reload the draft). */
  onChanged: () => void;
};

/** Reads a file the user picked, as UTF-8 text. */
export function readText(file: File): Promise<string> {
  if (typeof file.text === "function") return file.text();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsText(file);
  });
}

/** The text of a rejected command (an `ApiError`), or of anything else thrown. */
export function message(e: unknown): string {
  const err = e as Partial<ApiError>;
  return typeof err?.message === "string" ? err.message : String(e);
}

/** A labelled button that opens a file picker and hands over the first file chosen. */
export function FileButton({
  label,
  testId,
  disabled,
  onFile,
}: {
  label: string;
  testId: string;
  disabled: boolean;
  onFile: (file: File | undefined) => void;
}) {
  return (
    <label className="btn file-btn">
      {label}
      <input
        type="file"
        accept="application/json,.json"
        data-testid={testId}
        disabled={disabled}
        onChange={(e) => {
          onFile(e.currentTarget.files?.[0]);
          e.currentTarget.value = "";
        }}
      />
    </label>
  );
}

/**
 * An approval awaiting co-signature: who signed, what is missing, until when; export the
 * request for a lead, import the lead's response. No envelope leaves before the quorum.
 */
export function CosignPanel({ id, cosign, exportRequest, importResponse, onChanged }: Props) {
  const [exported, setExported] = useState<string | null>(null);
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const doExport = () => {
    setBusy(true);
    exportRequest(id)
      .then(setExported, (e: unknown) => setStatus({ ok: false, text: message(e) }))
      .finally(() => setBusy(false));
  };
  const doImport = (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    readText(file)
      .then(importResponse)
      .then(
        (o) => {
          setStatus(
            o.outcome === "released"
              ? { ok: true, text: `Quorum met: approved by ${o.signers.map((s) => s.name).join(" + ")} and released to the agent.` }
              : { ok: true, text: `Signature added; still missing: ${o.cosign.missing}` },
          );
          onChanged();
        },
        (e: unknown) => setStatus({ ok: false, text: message(e) }),
      )
      .finally(() => setBusy(false));
  };

  return (
    <section className="panel cosign" data-testid="cosign" aria-labelledby="cosign-h">
      <h3 id="cosign-h">Awaiting co-signature</h3>
      <dl className="kv">
        <dt>Signed by</dt>
        <dd>
          <ul className="cosign-signers" data-testid="cosign-signers">
            {cosign.signers.map((s) => (
              <li key={s.keyid}>
                <SafeText text={s.name} inline /> ({s.role}) <code className="keyid">{s.keyid}</code>
              </li>
            ))}
          </ul>
        </dd>
        <dt>Missing</dt>
        <dd data-testid="cosign-missing">
          <SafeText text={cosign.missing} inline />
        </dd>
        <dt>Sign by</dt>
        <dd>
          {absolute(cosign.exp)} <span className="muted">(the signed approval expires then; approve again after)</span>
        </dd>
      </dl>
      <div className="modal-buttons">
        <button type="button" className="btn" data-testid="cosign-export" disabled={busy} onClick={doExport}>
          Export co-sign request
        </button>
        <FileButton label="Import co-sign response…" testId="cosign-import" disabled={busy} onFile={doImport} />
      </div>
      {exported !== null && (
        <p className="note" data-testid="cosign-exported">
          Request written to <code>{exported}</code>. Send it to a lead; import their response here.
        </p>
      )}
      {status && (
        <p className={status.ok ? "note" : "note warn"} data-testid="cosign-status" role="status">
          <SafeText text={status.text} inline />
        </p>
      )}
    </section>
  );
}

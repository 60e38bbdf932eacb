import type { AppInfo } from "../bindings/AppInfo";

/** `sha256:3f2a…` → `3f2a9c01b7e4`: enough to recognise a key; the full id is in the tooltip. */
export function shortKeyId(keyid: string): string {
  const hex = keyid.includes(":") ? keyid.slice(keyid.indexOf(":") + 1) : keyid;
  return hex.slice(0, 12);
}

type Props = {
  info: AppInfo | null;
  pending: number | null;
  onAddAgent: () => void;
  /** Serial of the policy in force (`null`: none, `undefined`: not loaded yet). */
  policySerial?: number | null;
  onPolicy: () => void;
  /** Open the co-signing sheet (sign a request from another machine). */
  onCosign?: () => void;
  /** End of the notification pause (tray), Unix seconds; absent or `null`: not paused. */
  pausedUntil?: number | null;
};

/** "14:05": a Unix time as local hours and minutes. */
export function clockTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function Header({ info, pending, onAddAgent, policySerial, onPolicy, onCosign, pausedUntil }: Props) {
  return (
    <header className="app-header">
      <h1 className="app-name">Countersign</h1>
      <span className="pending-pill" title="drafts waiting for a decision">
        <span data-testid="pending-count">{pending ?? "–"}</span> pending
      </span>
      {pausedUntil != null && (
        <span
          className="pending-pill"
          data-testid="notifications-paused"
          title="paused from the tray; reminders about critical drafts still show"
        >
          Notifications paused until {clockTime(pausedUntil)}
        </span>
      )}
      <div className="header-info">
        {info ? (
          <>
            <span className="header-field" title={`approver key ${info.keyid}`}>
              <span className="field-label">Approver</span> {info.approver}{" "}
              <code className="keyid">{shortKeyId(info.keyid)}</code>
            </span>
            <span className="header-field" title={`data: ${info.data_dir} · version ${info.version}`}>
              <span className="field-label">API</span> <code>{info.api_url}</code>
            </span>
          </>
        ) : (
          <span className="muted">loading…</span>
        )}
      </div>
      <button
        type="button"
        className="btn"
        data-testid="open-policy"
        title="the policy in force (p)"
        onClick={onPolicy}
      >
        Policy{policySerial != null ? ` · serial ${policySerial}` : policySerial === null ? " · none" : ""}
      </button>
      {onCosign && (
        <button type="button" className="btn" data-testid="open-cosign" title="sign a co-sign request from another machine" onClick={onCosign}>
          Co-sign…
        </button>
      )}
      <button type="button" className="btn" data-testid="add-agent" onClick={onAddAgent}>
        Add agent
      </button>
    </header>
  );
}

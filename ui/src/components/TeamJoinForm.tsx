import { useId, useState, type FormEvent } from "react";
import type { ApiError } from "../bindings/ApiError";
import type { TeamLink } from "../bindings/TeamLink";
import { SafeText } from "./SafeText";

type Props = {
  /** The ended session, to log in again with the same server and files. */
  previous?: TeamLink | null;
  /** Joins; rejects with the reason (shown under the form). */
  onJoin: (server: string, leadTrust: string, caCert: string | null) => Promise<unknown>;
};

/**
 * "Join a team": the server's URL, the trust file pinning the team's lead keys (the roster
 * must verify against it), and an optional CA certificate. The approver key never leaves this
 * machine: Rust signs the server's login challenge with it.
 */
export function TeamJoinForm({ previous, onJoin }: Props) {
  const id = useId();
  const [server, setServer] = useState(previous?.server ?? "");
  const [leadTrust, setLeadTrust] = useState(previous?.lead_trust ?? "");
  const [caCert, setCaCert] = useState(previous?.ca_cert ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [missing, setMissing] = useState(false);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!server.trim() || !leadTrust.trim()) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    onJoin(server.trim(), leadTrust.trim(), caCert.trim() || null)
      .catch((err: unknown) => setError(err as ApiError))
      .finally(() => setBusy(false));
  };

  return (
    <form className="team-join panel" data-testid="team-join" onSubmit={submit} noValidate aria-label="Join a team">
      <h3>{previous ? "Log in to the team again" : "Join a team"}</h3>
      {previous?.connection === "expired" && (
        <p className="note warn" data-testid="team-expired">
          Your session with team <strong>{previous.team}</strong> has ended. Log in again: your key signs a new
          challenge.
        </p>
      )}
      <p className="note">
        Your approver key stays on this machine: the server sends a challenge, this app signs it, and later uploads
        only signatures.
      </p>
      <label htmlFor={`${id}-server`}>Team server URL</label>
      <input
        id={`${id}-server`}
        data-testid="team-server"
        type="url"
        placeholder="https://countersign.example.com:8443"
        value={server}
        autoFocus
        onChange={(e) => setServer(e.target.value)}
      />
      <label htmlFor={`${id}-trust`}>Lead trust file (the team's pinned lead keys)</label>
      <input
        id={`${id}-trust`}
        data-testid="team-lead-trust"
        placeholder="/etc/countersign/lead-trust.json"
        value={leadTrust}
        onChange={(e) => setLeadTrust(e.target.value)}
      />
      <label htmlFor={`${id}-ca`}>CA certificate (optional, PEM)</label>
      <input
        id={`${id}-ca`}
        data-testid="team-ca-cert"
        placeholder="only for a certificate your system does not trust"
        value={caCert}
        onChange={(e) => setCaCert(e.target.value)}
      />
      {missing && <p className="field-error">The server URL and the lead trust file are required.</p>}
      {error && (
        <p className="field-error" role="alert" data-testid="team-join-error">
          <SafeText text={error.message} inline />
        </p>
      )}
      <div className="decide-buttons">
        <button type="submit" className="btn btn-primary" data-testid="team-join-submit" disabled={busy}>
          {busy ? "Joining…" : previous ? "Log in again" : "Join team"}
        </button>
      </div>
    </form>
  );
}

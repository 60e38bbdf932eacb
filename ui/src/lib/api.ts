/**
 * Typed wrappers over the Tauri commands (`src-tauri`). Argument keys are camelCase, as Tauri v2
 * maps them onto the Rust snake_case parameters. Every failure rejects with an {@link ApiError}.
 */
import { invoke } from "@tauri-apps/api/core";
import type { Action } from "../bindings/Action";
import type { ActionDetail } from "../bindings/ActionDetail";
import type { ActionSummary } from "../bindings/ActionSummary";
import type { ApiError } from "../bindings/ApiError";
import type { AppInfo } from "../bindings/AppInfo";
import type { BatchDraft } from "../bindings/BatchDraft";
import type { BatchResult } from "../bindings/BatchResult";
import type { CosignInfo } from "../bindings/CosignInfo";
import type { CosignOutcome } from "../bindings/CosignOutcome";
import type { CosignReview } from "../bindings/CosignReview";
import type { DecisionInfo } from "../bindings/DecisionInfo";
import type { DiffLine } from "../bindings/DiffLine";
import type { EditPreview } from "../bindings/EditPreview";
import type { ErrorCode } from "../bindings/ErrorCode";
import type { HistoryEntry } from "../bindings/HistoryEntry";
import type { NewAgent } from "../bindings/NewAgent";
import type { ShellState } from "../bindings/ShellState";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import type { PolicyView } from "../bindings/PolicyView";
import type { Claim } from "../bindings/Claim";
import type { SignOutcome } from "../bindings/SignOutcome";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamDraftDetail } from "../bindings/TeamDraftDetail";
import type { TeamLink } from "../bindings/TeamLink";

const CODES: readonly ErrorCode[] = [
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "expired",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "internal",
  "cancelled",
];

/**
 * Turns whatever `invoke` rejected with into an `ApiError`. The shell sends `{code, message}`;
 * anything else (a bare string from Tauri itself, e.g. a command denied by the ACL, or a JS
 * error) keeps its text under `internal` so it is still shown.
 */
export function toApiError(e: unknown): ApiError {
  if (e !== null && typeof e === "object") {
    const o = e as Record<string, unknown>;
    if (typeof o.message === "string") {
      const code = CODES.includes(o.code as ErrorCode) ? (o.code as ErrorCode) : "internal";
      return { code, message: o.message };
    }
  }
  if (typeof e === "string" && e) return { code: "internal", message: e };
  return { code: "internal", message: `unexpected error: ${String(e)}` };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** All drafts, any status, newest first. */
export const listActions = () => call<ActionSummary[]>("list_actions");

/** Decided drafts, most recently decided first, with who, when and why. */
export const listHistory = () => call<HistoryEntry[]>("list_history");

/** One draft with its risk, review and decision. */
export const getAction = (id: string) => call<ActionDetail>("get_action", { id });

/**
 * Lines `[from, to)` (at most 5,000) of the outlined diff of draft `id` (`TextDiff.outline`),
 * whose digest the window shows; Rust refuses another digest (`conflict`).
 */
export const diffLines = (id: string, digest: string, from: number, to: number) =>
  call<DiffLine[]>("get_diff_lines", { id, digest, from, to });

/** Approves the draft whose digest the reviewer saw; Rust refuses a different digest. */
export const approve = (id: string, actionDigest: string) =>
  call<DecisionInfo>("approve", { id, actionDigest });

/** Diff, impact, risk and digest of an edit of draft `id`; read-only, nothing is signed. */
export const previewEdit = (id: string, action: Action) => call<EditPreview>("preview_edit", { id, action });

/**
 * Approves the reviewer's edit of draft `id`. `actionDigest` is the digest of the draft as it
 * was shown before the edit; the signed decision carries `action`.
 */
export const approveEdited = (id: string, actionDigest: string, action: Action) =>
  call<DecisionInfo>("approve_edited", { id, actionDigest, action });

/** Rejects with a non-empty reason. */
export const reject = (id: string, actionDigest: string, reason: string) =>
  call<DecisionInfo>("reject", { id, actionDigest, reason });

/** Registers an agent; its token is returned once. */
export const addAgent = (name: string) => call<NewAgent>("add_agent", { name });

/** Approver, key id, API URL, version. */
export const appInfo = () => call<AppInfo>("app_info");

/** Name of the Tauri event the shell emits with a `QueueEvent` payload. */
export const QUEUE_CHANGED = "queue-changed";

/** The policy in force, the last refusal, and whether this approver may edit it. */
export const policyView = () => call<PolicyView>("policy_view");

/** "What would change": the last `limit` drafts rescored by Rust under the edited TOML. */
export const previewPolicy = (text: string, limit?: number) =>
  call<PolicyPreview>("preview_policy", { text, limit: limit ?? null });

/** Signs the edited TOML with the local lead key, writes it and puts it in force. */
export const signPolicy = (text: string) => call<PolicyView>("sign_policy", { text });

/** Event the shell emits when a policy is loaded or refused (no payload: ask `policyView`). */
export const POLICY_CHANGED = "policy-changed";

/** Whether notifications are paused (tray) and until when; the reminder interval. */
export const shellState = () => call<ShellState>("shell_state");

/** Event carrying a new {@link ShellState} (the pause was toggled or ran out). */
export const SHELL_STATE = "shell-state";

/** Event asking the window to open a draft (`OpenDraft`): a notification's Open, the tray. */
export const OPEN_DRAFT = "open-draft";

/**
 * Approves several low-risk drafts, each as the queue showed it (id + digest). Rust re-checks
 * every draft (pending, same digest, low risk under the policy in force) and signs each on its
 * own; the others stay pending and are listed in `refused` with the reason.
 */
export const approveBatch = (drafts: BatchDraft[]) => call<BatchResult>("approve_batch", { drafts });

/**
 * Approves a draft the policy reserves to a lead this approver is not: Rust signs it as the
 * first signer and keeps it pending, awaiting a lead's co-signature.
 */
export const approveForCosign = (id: string, actionDigest: string) =>
  call<CosignInfo>("approve_for_cosign", { id, actionDigest });

/** Writes draft `id`'s co-sign request to the app's co-sign directory; resolves to its path. */
export const exportCosign = (id: string) => call<string>("export_cosign", { id });

/** The lead's view of a co-sign request file's text: checked, with a risk score computed here. */
export const reviewCosign = (text: string) => call<CosignReview>("review_cosign", { text });

/** Co-signs a request (after a native confirmation); resolves to the response file's path. */
export const signCosign = (text: string, actionDigest: string) =>
  call<string>("sign_cosign", { text, actionDigest });

/** Imports a co-sign response file's text; the envelope is released when the quorum is met. */
export const importCosign = (text: string) => call<CosignOutcome>("import_cosign", { text });

/** The team link (server, team, approver, role, stream state); `null` when not joined. */
export const teamStatus = () => call<TeamLink | null>("team_status");

/**
 * Joins a team server: Rust verifies its roster against the lead trust file, checks this key is
 * in it, signs the login challenge with it, saves the session and follows the queue.
 */
export const teamJoin = (server: string, leadTrust: string, caCert: string | null) =>
  call<TeamLink>("team_join", { server, leadTrust, caCert });

/** Leaves the team (logs out when the server is reachable; forgets the session either way). */
export const teamLeave = () => call<null>("team_leave");

/** The team's pending drafts. */
export const teamDrafts = () => call<TeamDraft[]>("team_drafts");

/** One team draft: diff, impact, risk, who signed so far; digest recomputed by Rust. */
export const teamDraft = (id: string) => call<TeamDraftDetail>("team_draft", { id });

/** Marks a team draft "in review" by this approver. */
export const teamClaim = (id: string) => call<Claim>("team_claim", { id });

/** Gives up this approver's claim. */
export const teamRelease = (id: string) => call<null>("team_release", { id });

/** Approves a team draft as shown: Rust signs locally and uploads only the signature. */
export const teamApprove = (id: string, actionDigest: string) =>
  call<SignOutcome>("team_approve", { id, actionDigest });

/** Rejects a team draft as shown with a reason (signed locally). */
export const teamReject = (id: string, actionDigest: string, reason: string) =>
  call<SignOutcome>("team_reject", { id, actionDigest, reason });

/** Event carrying each `TeamEvent` of the team server's stream. */
export const TEAM_EVENT = "team-event";

/** Event carrying the `TeamLink` whenever it changes (`null` after leaving). */
export const TEAM_STATUS = "team-status";

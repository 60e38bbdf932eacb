import { listen } from "@tauri-apps/api/event";
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { SignOutcome } from "../bindings/SignOutcome";
import type { TeamDraft } from "../bindings/TeamDraft";
import type { TeamDraftDetail } from "../bindings/TeamDraftDetail";
import type { TeamEvent } from "../bindings/TeamEvent";
import type { TeamLink } from "../bindings/TeamLink";
import * as api from "../lib/api";
import { applyTeamEvent, isNewerLink, orderTeam } from "../lib/team";
import type { DecideCommand } from "./DecidePanel";
import { TeamDetail } from "./TeamDetail";
import { TeamJoinForm } from "./TeamJoinForm";
import { TeamQueue } from "./TeamQueue";

type Props = {
  /** The view tabs, shown above the team queue. */
  tabs: ReactNode;
  now: number;
  /** Reports a failure in the app's error banner. */
  fail: (e: unknown) => void;
  /** A draft to open (a notification's Open); `n` changes on every request. */
  openRequest?: { id: string; n: number } | null;
};

/** Keys typed into these go to the control, not to queue navigation. */
function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}

/**
 * The Team view: the join form until joined, then the team's pending drafts (applied live from
 * the shell's `team-event`s) and the open draft's detail with Approve / Reject.
 */
export function TeamView({ tabs, now, fail, openRequest }: Props) {
  const [link, setLinkState] = useState<TeamLink | null | undefined>(undefined);
  // A command's answer and a status event can cross on their way here: the newer state (the
  // larger version) wins, so a join's "connecting" never hides the "live" that followed it.
  const seenVersion = useRef(0);
  const setLink = useCallback((next: TeamLink | null) => {
    if (!isNewerLink(seenVersion.current, next)) return;
    if (next) seenVersion.current = next.version;
    setLinkState(next);
  }, []);
  const [drafts, setDrafts] = useState<TeamDraft[] | null>(null);
  const [openId, setOpenId] = useState<string | null>(null);
  const [cursorId, setCursorId] = useState<string | null>(null);
  const [detail, setDetail] = useState<TeamDraftDetail | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<SignOutcome | null>(null);
  const [gone, setGone] = useState<string | null>(null);
  const [command, setCommand] = useState<DecideCommand | null>(null);
  const openRef = useRef<string | null>(null);
  openRef.current = openId;
  const detailSeq = useRef(0);

  const loadDetail = useCallback(
    (id: string) => {
      const seq = ++detailSeq.current;
      return api.teamDraft(id).then(
        (d) => {
          if (seq === detailSeq.current && openRef.current === id) setDetail(d);
        },
        (e: unknown) => {
          if (seq === detailSeq.current && openRef.current === id) fail(e);
        },
      );
    },
    [fail],
  );

  const open = useCallback(
    (id: string) => {
      setCursorId(id);
      if (openRef.current === id) return;
      openRef.current = id;
      setOpenId(id);
      setDetail(null);
      setOutcome(null);
      setGone(null);
      void loadDetail(id);
    },
    [loadDetail],
  );

  // The link, then its changes; every event of the team's stream applied to the list.
  useEffect(() => {
    const offs: (() => void)[] = [];
    let gone = false;
    const keep = (u: () => void) => (gone ? u() : offs.push(u));
    api.teamStatus().then(setLink, fail);
    listen<TeamLink | null>(api.TEAM_STATUS, (e) => setLink(e.payload)).then(keep, fail);
    listen<TeamEvent>(api.TEAM_EVENT, (e) => {
      const ev = e.payload;
      setDrafts((list) => applyTeamEvent(list, ev));
      const id = openRef.current;
      if (ev.type === "pending" && ev.draft.summary.id === id) void loadDetail(id);
      if (ev.type === "decided" && ev.id === id) setGone(ev.status);
    }).then(keep, fail);
    return () => {
      gone = true;
      offs.forEach((u) => u());
    };
  }, [fail, loadDetail]);

  // A joined link lists the queue at once (the stream's snapshot may have come before this
  // view listened).
  const joined = link != null && link.connection !== "expired";
  const server = link?.server;
  useEffect(() => {
    if (!joined) return;
    api.teamDrafts().then(setDrafts, fail);
  }, [joined, server, fail]);

  const ordered = useMemo(() => (drafts ? orderTeam(drafts) : null), [drafts]);

  // Nothing open: the riskiest draft is.
  useEffect(() => {
    if (openId === null && ordered && ordered.length > 0) open(ordered[0]!.summary.id);
  }, [ordered, openId, open]);

  useEffect(() => {
    if (openRequest) open(openRequest.id);
  }, [openRequest, open]);

  const act = useCallback(
    (id: string, request: Promise<SignOutcome>) => {
      setBusy(true);
      request
        .then(
          (o) => {
            setOutcome(o);
            if (o.outcome === "awaiting") return loadDetail(id);
            setGone(o.outcome === "released" ? "approved" : "rejected");
          },
          (e: unknown) => {
            fail(e);
            return loadDetail(id);
          },
        )
        .finally(() => setBusy(false));
    },
    [fail, loadDetail],
  );
  const approve = useCallback((id: string, digest: string) => act(id, api.teamApprove(id, digest)), [act]);
  const reject = useCallback(
    (id: string, digest: string, reason: string) => act(id, api.teamReject(id, digest, reason)),
    [act],
  );
  const claim = useCallback(
    (id: string) => {
      api.teamClaim(id).then(() => loadDetail(id), fail);
    },
    [fail, loadDetail],
  );
  const release = useCallback(
    (id: string) => {
      api.teamRelease(id).then(() => loadDetail(id), fail);
    },
    [fail, loadDetail],
  );
  const join = useCallback(
    (server: string, leadTrust: string, caCert: string | null) =>
      api.teamJoin(server, leadTrust, caCert).then((l) => {
        setDrafts(null);
        setOpenId(null);
        setLink(l);
      }),
    [],
  );
  const leave = useCallback(() => {
    api.teamLeave().then(() => {
      setLink(null);
      setDrafts(null);
      setOpenId(null);
      setDetail(null);
    }, fail);
  }, [fail]);

  // j/k walk the team queue, Enter opens, a/r decide the open draft, c claims it.
  const orderedRef = useRef<TeamDraft[]>([]);
  orderedRef.current = ordered ?? [];
  const cursorRef = useRef<string | null>(null);
  cursorRef.current = cursorId;
  useEffect(() => {
    if (!joined) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTypingTarget(e.target)) return;
      const rows = orderedRef.current;
      if (e.key === "j" || e.key === "k") {
        if (rows.length === 0) return;
        e.preventDefault();
        const at = rows.findIndex((r) => r.summary.id === (cursorRef.current ?? openRef.current));
        const next = at < 0 ? 0 : e.key === "j" ? Math.min(rows.length - 1, at + 1) : Math.max(0, at - 1);
        const row = rows[next];
        if (row) {
          cursorRef.current = row.summary.id;
          setCursorId(row.summary.id);
        }
      } else if (e.key === "Enter") {
        if (e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement) return;
        if (cursorRef.current) {
          e.preventDefault();
          open(cursorRef.current);
        }
      } else if (e.key === "a" || e.key === "r") {
        if (openRef.current === null) return;
        e.preventDefault();
        const key = e.key === "a" ? "approve" : "reject";
        setCommand((c) => ({ key, n: (c?.n ?? 0) + 1 }));
      } else if (e.key === "c") {
        if (openRef.current === null) return;
        e.preventDefault();
        claim(openRef.current);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [joined, open, claim]);

  if (link === undefined) {
    return (
      <>
        <div className="left-pane">
          {tabs}
          <p className="empty">Loading…</p>
        </div>
        <div className="detail-pane" />
      </>
    );
  }

  if (!joined) {
    return (
      <>
        <div className="left-pane">
          {tabs}
          <div className="queue">
            <p className="empty">
              Not joined to a team. A team server shares one queue between several approvers; each signs on their own
              desktop.
            </p>
          </div>
        </div>
        <div className="detail-pane">
          <TeamJoinForm key={link?.server ?? "new"} previous={link} onJoin={join} />
        </div>
      </>
    );
  }

  return (
    <>
      <div className="left-pane">
        {tabs}
        <TeamQueue
          link={link}
          drafts={ordered}
          openId={openId}
          cursorId={cursorId}
          now={now}
          onOpen={open}
          onLeave={leave}
        />
      </div>
      <div className="detail-pane">
        {openId === null ? (
          <p className="empty center">Select a team draft to review it.</p>
        ) : detail === null || detail.detail.summary.id !== openId ? (
          <p className="empty center">Loading…</p>
        ) : (
          <TeamDetail
            key={openId}
            detail={detail}
            me={link.approver}
            now={now}
            busy={busy}
            outcome={outcome}
            gone={gone}
            command={command}
            onApprove={approve}
            onReject={reject}
            onClaim={claim}
            onRelease={release}
          />
        )}
      </div>
    </>
  );
}

import { listen } from "@tauri-apps/api/event";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Action } from "./bindings/Action";
import type { ActionDetail } from "./bindings/ActionDetail";
import type { ActionSummary } from "./bindings/ActionSummary";
import type { ApiError } from "./bindings/ApiError";
import type { AppInfo } from "./bindings/AppInfo";
import type { HistoryEntry } from "./bindings/HistoryEntry";
import type { PolicyView } from "./bindings/PolicyView";
import type { OpenDraft } from "./bindings/OpenDraft";
import type { QueueEvent } from "./bindings/QueueEvent";
import type { ShellState } from "./bindings/ShellState";
import { AddAgentDialog } from "./components/AddAgentDialog";
import { BatchSheet } from "./components/BatchSheet";
import { CosignSheet } from "./components/CosignSheet";
import { Detail } from "./components/Detail";
import { ErrorBanner } from "./components/ErrorBanner";
import { Header } from "./components/Header";
import { History } from "./components/History";
import { PolicyBanner } from "./components/PolicyBanner";
import { PolicyPanel } from "./components/PolicyPanel";
import { Queue } from "./components/Queue";
import { QueueFilters } from "./components/QueueFilters";
import { ShortcutSheet } from "./components/ShortcutSheet";
import { TeamView } from "./components/TeamView";
import * as api from "./lib/api";
import { asBatch, isBatchable } from "./lib/batch";
import { filterActions, NO_FILTERS, ordered, type Filters } from "./lib/queue";
import { useNow } from "./lib/useNow";

/** Longest wait between a queue event and the list reload it causes, in milliseconds. */
const LIST_RELOAD_MS = 100;

/** Keys typed into these go to the control, not to queue navigation. */
function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}

export function App() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [actions, setActions] = useState<ActionSummary[] | null>(null);
  const [openId, setOpenId] = useState<string | null>(null);
  const [cursorId, setCursorId] = useState<string | null>(null);
  const [detail, setDetail] = useState<ActionDetail | null>(null);
  const [detailFailed, setDetailFailed] = useState(false);
  const [deciding, setDeciding] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [addingAgent, setAddingAgent] = useState(false);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [showKeys, setShowKeys] = useState(false);
  const [policy, setPolicy] = useState<PolicyView | null>(null);
  const [shell, setShell] = useState<ShellState | null>(null);
  const [showPolicy, setShowPolicy] = useState(false);
  const [view, setView] = useState<"queue" | "history" | "team">("queue");
  const [teamOpen, setTeamOpen] = useState<{ id: string; n: number } | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const viewRef = useRef(view);
  viewRef.current = view;
  const shownHistory = useMemo(() => {
    if (!history) return null;
    const keep = new Set(filterActions(history.map((h) => h.draft), filters).map((d) => d.id));
    return history.filter((h) => keep.has(h.draft.id));
  }, [history, filters]);
  const searchRef = useRef<HTMLInputElement>(null);
  const shown = useMemo(() => (actions ? filterActions(actions, filters) : null), [actions, filters]);
  const [command, setCommand] = useState<{ key: "approve" | "reject" | "edit"; n: number } | null>(null);
  // Batch approval: the selection (ids), the confirmation sheet, and its request in flight.
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const [batchOpen, setBatchOpen] = useState(false);
  const [batchBusy, setBatchBusy] = useState(false);
  // Only drafts still pending and low risk stay selected (the queue changes under the reader).
  const selectedDrafts = useMemo(
    () => (actions && selected.size > 0 ? actions.filter((a) => selected.has(a.id) && isBatchable(a)) : []),
    [actions, selected],
  );
  const selectedIds = useMemo(() => new Set(selectedDrafts.map((d) => d.id)), [selectedDrafts]);
  const now = useNow();

  const fail = useCallback((e: unknown) => setError(api.toApiError(e)), []);
  const loadHistory = useCallback(() => api.listHistory().then(setHistory, fail), [fail]);

  // Responses can arrive out of order (events, clicks); only the latest request of each kind wins.
  const listSeq = useRef(0);
  const detailSeq = useRef(0);
  const openRef = useRef<string | null>(null);
  openRef.current = openId;

  const loadList = useCallback(() => {
    const seq = ++listSeq.current;
    return api.listActions().then((list) => {
      if (seq === listSeq.current) setActions(list);
    }, fail);
  }, [fail]);

  const loadDetail = useCallback(
    (id: string) => {
      const seq = ++detailSeq.current;
      const current = () => seq === detailSeq.current && openRef.current === id;
      return api.getAction(id).then(
        (d) => {
          if (current()) {
            setDetail(d);
            setDetailFailed(false);
          }
        },
        (e: unknown) => {
          if (current()) setDetailFailed(true);
          fail(e);
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
      setDetailFailed(false);
      void loadDetail(id);
    },
    [loadDetail],
  );

  // With nothing open, show the most urgent pending draft: the reviewer lands on what matters.
  useEffect(() => {
    if (openId !== null || !actions) return;
    const first = ordered(actions).find((a) => a.status === "pending");
    if (first) open(first.id);
  }, [actions, openId, open]);

  useEffect(() => {
    api.appInfo().then(setInfo, fail);
    void loadList();
  }, [fail, loadList]);

  // The policy in force and the last refusal: loaded once, then again whenever the shell says
  // a policy file was loaded or refused.
  const loadPolicy = useCallback(() => api.policyView().then(setPolicy, fail), [fail]);
  useEffect(() => {
    void loadPolicy();
    let unlisten: (() => void) | undefined;
    let gone = false;
    listen(api.POLICY_CHANGED, () => void loadPolicy()).then((u) => {
      if (gone) u();
      else unlisten = u;
    }, fail);
    return () => {
      gone = true;
      unlisten?.();
    };
  }, [fail, loadPolicy]);

  // The shell's state (notification pause), and the drafts it asks to open: a notification's
  // "Open" action (one draft, or the queue for a coalesced one) and the tray.
  useEffect(() => {
    const offs: (() => void)[] = [];
    let gone = false;
    const keep = (u: () => void) => (gone ? u() : offs.push(u));
    api.shellState().then(setShell, fail);
    listen<ShellState>(api.SHELL_STATE, (e) => setShell(e.payload)).then(keep, fail);
    listen<OpenDraft>(api.OPEN_DRAFT, (e) => {
      const id = e.payload.id;
      if (e.payload.team) {
        setView("team");
        if (id) setTeamOpen((o) => ({ id, n: (o?.n ?? 0) + 1 }));
        return;
      }
      setView("queue");
      if (id) open(id);
    }).then(keep, fail);
    return () => {
      gone = true;
      offs.forEach((u) => u());
    };
  }, [fail, open]);

  // Pushed by the shell whenever a draft is submitted, decided or expires.
  // A burst of events (many drafts at once) reloads the list once per LIST_RELOAD_MS, not once
  // per event: with 10,000 drafts each reload is a large answer. One reload at a time, and the
  // next waits at least as long as the last one took, so a flood of drafts cannot keep the
  // window busy reloading. The open draft reloads at once.
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let inFlight = false;
    let again = false;
    const reload = () => {
      timer = null;
      if (gone) return;
      inFlight = true;
      const started = performance.now();
      void Promise.all([loadList(), viewRef.current === "history" ? loadHistory() : null]).finally(() => {
        inFlight = false;
        if (again && !gone) {
          again = false;
          timer = setTimeout(reload, Math.max(LIST_RELOAD_MS, performance.now() - started));
        }
      });
    };
    listen<QueueEvent>(api.QUEUE_CHANGED, (e) => {
      if (inFlight) again = true;
      else if (timer === null) timer = setTimeout(reload, LIST_RELOAD_MS);
      if (e.payload.id === openRef.current) void loadDetail(e.payload.id);
    }).then((u) => {
      if (gone) u();
      else unlisten = u;
    }, fail);
    return () => {
      gone = true;
      if (timer !== null) clearTimeout(timer);
      unlisten?.();
    };
  }, [fail, loadDetail, loadList, loadHistory]);

  const decide = useCallback(
    (id: string, request: Promise<unknown>) => {
      setDeciding(true);
      request
        .catch(fail)
        // Whatever happened (decided, or refused because it changed meanwhile), show the truth.
        .then(() => Promise.all([loadDetail(id), loadList()]))
        .finally(() => setDeciding(false));
    },
    [fail, loadDetail, loadList],
  );

  const approve = useCallback(
    (id: string, digest: string) => decide(id, api.approve(id, digest)),
    [decide],
  );
  const approveEdited = useCallback(
    (id: string, digest: string, action: Action) => decide(id, api.approveEdited(id, digest, action)),
    [decide],
  );
  const reject = useCallback(
    (id: string, digest: string, reason: string) => decide(id, api.reject(id, digest, reason)),
    [decide],
  );
  const approveForCosign = useCallback(
    (id: string, digest: string) => decide(id, api.approveForCosign(id, digest)),
    [decide],
  );
  const [cosignOpen, setCosignOpen] = useState(false);
  const cosignFiles = useMemo(
    () => ({
      exportRequest: api.exportCosign,
      importResponse: api.importCosign,
      onChanged: () => {
        if (openRef.current) void loadDetail(openRef.current);
        void loadList();
      },
    }),
    [loadDetail, loadList],
  );

  const toggleSelected = useCallback((id: string) => {
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  }, []);
  const approveAgentLow = useCallback(
    (agent: string) => {
      setSelected(new Set((shown ?? []).filter((a) => a.agent === agent && isBatchable(a)).map((a) => a.id)));
      setBatchOpen(true);
    },
    [shown],
  );
  const confirmBatch = useCallback(() => {
    setBatchBusy(true);
    api
      .approveBatch(asBatch(selectedDrafts))
      .then(
        (result) => {
          if (result.refused.length > 0) {
            const shownRefusals = result.refused.slice(0, 5).map((r) => `${r.id}: ${r.error.message}`);
            const more = result.refused.length - shownRefusals.length;
            setError({
              code: "conflict",
              message:
                `${result.approved.length} approved; ${result.refused.length} not approved and left as they were — ` +
                shownRefusals.join("; ") +
                (more > 0 ? `; and ${more} more` : ""),
            });
          }
        },
        fail,
      )
      // Whatever happened, show the truth.
      .then(() => Promise.all([loadList(), openRef.current ? loadDetail(openRef.current) : null]))
      .finally(() => {
        setSelected(new Set());
        setBatchOpen(false);
        setBatchBusy(false);
      });
  }, [selectedDrafts, fail, loadList, loadDetail]);

  // j/k walk the queue, Enter opens. Ignored while typing or while the dialog is open;
  // Enter on a focused button keeps its own meaning.
  const orderedRows = useMemo(
    () => (view === "history" ? (shownHistory ?? []).map((h) => h.draft) : shown ? ordered(shown) : []),
    [view, shownHistory, shown],
  );
  const orderedRef = useRef<ActionSummary[]>([]);
  orderedRef.current = orderedRows;
  const cursorRef = useRef<string | null>(null);
  cursorRef.current = cursorId;
  const selectedCountRef = useRef(0);
  selectedCountRef.current = selectedIds.size;
  useEffect(() => {
    // The Team view has its own keys (components/TeamView.tsx).
    if (addingAgent || showKeys || batchOpen || showPolicy || cosignOpen || view === "team") return;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTypingTarget(e.target)) return;
      const rows = orderedRef.current;
      if (e.key === "/") {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === "?") {
        e.preventDefault();
        setShowKeys(true);
      } else if (e.key === "p") {
        e.preventDefault();
        setShowPolicy(true);
      } else if (e.key === "j" || e.key === "k") {
        if (rows.length === 0) return;
        e.preventDefault();
        const at = rows.findIndex((r) => r.id === (cursorRef.current ?? openRef.current));
        const next =
          at < 0 ? 0 : e.key === "j" ? Math.min(rows.length - 1, at + 1) : Math.max(0, at - 1);
        const row = rows[next];
        if (row) {
          // Keys can arrive faster than renders (key repeat on a 10,000-draft queue): the next
          // press moves on from this one, not from the last rendered cursor.
          cursorRef.current = row.id;
          setCursorId(row.id);
        }
      } else if (e.key === "x") {
        // Select the row under the cursor for a batch approval (low-risk pending drafts only).
        const id = cursorRef.current ?? openRef.current;
        const row = rows.find((r) => r.id === id);
        if (!row || !isBatchable(row)) return;
        e.preventDefault();
        toggleSelected(row.id);
      } else if (e.key === "A") {
        if (selectedCountRef.current === 0) return;
        e.preventDefault();
        setBatchOpen(true);
      } else if (e.key === "a" || e.key === "r" || e.key === "e") {
        // Act on the open draft; a high-risk approval only opens its confirmation.
        if (openRef.current === null) return;
        e.preventDefault();
        const key = e.key === "a" ? "approve" : e.key === "r" ? "reject" : "edit";
        setCommand((c) => ({ key, n: (c?.n ?? 0) + 1 }));
      } else if (e.key === "Enter") {
        if (e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement) return;
        const id = cursorRef.current;
        if (id) {
          e.preventDefault();
          open(id);
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [addingAgent, showKeys, batchOpen, showPolicy, cosignOpen, view, open, toggleSelected]);

  const pending = actions ? actions.filter((a) => a.status === "pending").length : null;

  const tabs = (
        <div className="view-tabs" role="tablist" aria-label="Queue, history or team">
          <button
            type="button"
            role="tab"
            aria-selected={view === "queue"}
            className={view === "queue" ? "tab is-active" : "tab"}
            data-testid="tab-queue"
            onClick={() => setView("queue")}
          >
            Queue
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={view === "history"}
            className={view === "history" ? "tab is-active" : "tab"}
            data-testid="tab-history"
            onClick={() => {
              setView("history");
              void loadHistory();
            }}
          >
            History
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={view === "team"}
            className={view === "team" ? "tab is-active" : "tab"}
            data-testid="tab-team"
            onClick={() => setView("team")}
          >
            Team
          </button>
        </div>
  );

  return (
    <div className="app">
      <Header
        info={info}
        pending={pending}
        onAddAgent={() => setAddingAgent(true)}
        policySerial={policy === null ? undefined : (policy.in_force?.policy.serial ?? null)}
        onPolicy={() => setShowPolicy(true)}
        onCosign={() => setCosignOpen(true)}
        pausedUntil={shell?.notifications_paused_until ?? null}
      />
      {policy && <PolicyBanner view={policy} onOpen={() => setShowPolicy(true)} />}
      {error && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      <main className="panes">
        {view === "team" ? (
          <TeamView tabs={tabs} now={now} fail={fail} openRequest={teamOpen} />
        ) : (
          <>
            <div className="left-pane">
              {tabs}
              {view === "history" ? (
                <nav className="queue" aria-label="History">
                  <QueueFilters
                    all={history?.map((h) => h.draft) ?? []}
                    shown={shownHistory?.length ?? 0}
                    filters={filters}
                    onChange={setFilters}
                    searchRef={searchRef}
                  />
                  <History entries={shownHistory} openId={openId} cursorId={cursorId} now={now} onOpen={open} />
                </nav>
              ) : (
                <Queue
                  actions={shown}
                  all={actions}
                  openId={openId}
                  cursorId={cursorId}
                  now={now}
                  onOpen={open}
                  filters={filters}
                  onFilters={setFilters}
                  searchRef={searchRef}
                  selected={selectedIds}
                  onToggle={toggleSelected}
                  onApproveAgentLow={approveAgentLow}
                  onBatch={() => setBatchOpen(true)}
                  onClearSelection={() => setSelected(new Set())}
                />
              )}
            </div>
            <div className="detail-pane">
              {openId === null ? (
                <p className="empty center">Select a draft to review it.</p>
              ) : detail === null || detail.summary.id !== openId ? (
                <p className="empty center">{detailFailed ? "This draft could not be loaded; see the error above." : "Loading…"}</p>
              ) : (
                <Detail
                  key={detail.summary.id}
                  detail={detail}
                  now={now}
                  busy={deciding}
                  command={command}
                  onApprove={approve}
                  onApproveEdited={approveEdited}
                  onReject={reject}
                  onApproveForCosign={approveForCosign}
                  cosignFiles={cosignFiles}
                />
              )}
            </div>
          </>
        )}
      </main>
      {showKeys && <ShortcutSheet onClose={() => setShowKeys(false)} />}
      {showPolicy && (
        <PolicyPanel
          view={policy}
          preview={(text) => api.previewPolicy(text)}
          sign={(text) =>
            api.signPolicy(text).then((v) => {
              setPolicy(v);
              return v;
            })
          }
          onClose={() => setShowPolicy(false)}
        />
      )}
      {cosignOpen && <CosignSheet review={api.reviewCosign} sign={api.signCosign} onClose={() => setCosignOpen(false)} />}
      {batchOpen && (
        <BatchSheet
          drafts={selectedDrafts}
          busy={batchBusy}
          onConfirm={confirmBatch}
          onCancel={() => setBatchOpen(false)}
        />
      )}
      {addingAgent && (
        <AddAgentDialog
          create={(name) =>
            api.addAgent(name).catch((e: unknown) => {
              fail(e);
              throw e;
            })
          }
          onClose={() => setAddingAgent(false)}
        />
      )}
    </div>
  );
}

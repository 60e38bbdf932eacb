import { useState } from "react";
import type { Change } from "../bindings/Change";
import type { DiffLine } from "../bindings/DiffLine";
import { MarkdownPreview } from "./MarkdownPreview";
import { CommandView } from "./CommandView";
import { JsonPathsView } from "./JsonPathsView";
import { PrincipalTable, type GrantFlags } from "./PrincipalTable";
import { RequestView } from "./RequestView";
import { SafeText } from "./SafeText";
import { TextDiffView } from "./TextDiffView";
import { languageOf } from "../lib/syntax";
import type { DiffFocus } from "../lib/locate";

/** Raw Markdown by default; the sanitised preview only on request. */
function MarkdownToggle({ source }: { source: string }) {
  const [on, setOn] = useState(false);
  return (
    <div className="md-toggle">
      <button type="button" className="btn btn-ghost btn-small" data-testid="md-toggle" aria-pressed={on} onClick={() => setOn(!on)}>
        {on ? "Hide Markdown preview" : "Preview as Markdown (sanitised)"}
      </button>
      {on && <MarkdownPreview source={source} />}
    </div>
  );
}

type Props = {
  change: Change;
  grantFlags?: GrantFlags;
  /** The post's Markdown source (message.post body), for the optional preview. */
  markdown?: string;
  /** A line of the diff to show and mark (a located risk factor). */
  focus?: DiffFocus | null;
  /** Fetches lines of an outlined (large) diff; see TextDiffView. */
  fetchLines?: (from: number, to: number) => Promise<DiffLine[]>;
  /** JSON Pointers of the gained grants, by grant key (see PrincipalTable). */
  grantPointers?: ReadonlyMap<string, string>;
};

/** The change, shaped for its kind. An unknown shape is shown raw and called out. */
export function ChangeView({ change, grantFlags, markdown, focus, grantPointers, fetchLines }: Props) {
  switch (change.type) {
    case "text":
      return (
        <>
          {markdown !== undefined && <MarkdownToggle source={markdown} />}
          <p className="change-label">
            <SafeText text={change.label} inline />
          </p>
          {!change.before_known && (
            <p className="note">No current content given; shown as new.</p>
          )}
          {change.paths && <JsonPathsView paths={change.paths} />}
          <TextDiffView diff={change.diff} focus={focus} fetchLines={fetchLines} lang={markdown === undefined ? languageOf(change.label) : null} />
        </>
      );
    case "json":
      return (
        <>
          <p className="change-label">
            Tool <code><SafeText text={change.label} inline /></code>
          </p>
          {change.paths && <JsonPathsView paths={change.paths} />}
          <TextDiffView diff={change.diff} focus={focus} fetchLines={fetchLines} lang="json" />
        </>
      );
    case "principals":
      return <PrincipalTable diff={change.diff} flags={grantFlags} pointers={grantPointers} />;
    case "command":
      return <CommandView argv={change.argv} script={change.script} cwd={change.cwd} env={change.env} />;
    case "request":
      return <RequestView method={change.method} url={change.url} headers={change.headers} body={change.body} />;
    default: {
      // A newer shell may send a shape this UI does not know: show it, never hide it.
      const raw = JSON.stringify(change as unknown, null, 2);
      return (
        <div data-testid="diff">
          <p className="note warn">This kind of change is not understood by this version of the UI.</p>
          <pre className="code-block">
            <SafeText text={raw} />
          </pre>
        </div>
      );
    }
  }
}

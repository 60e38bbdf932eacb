import type { JsonPaths } from "../bindings/JsonPaths";
import type { PathChange } from "../bindings/PathChange";
import { SafeText } from "./SafeText";

/** A sign per operation, so the list reads without colour: + added, − removed, ~ changed. */
const SIGN: Record<PathChange["op"], string> = { added: "+", removed: "−", changed: "~" };

const count = (n: number) => n.toLocaleString("en-US");

/** The marker after a value the core cut short (`*_cut`: characters left out). */
function Cut({ chars }: { chars: number | undefined }) {
  if (!chars) return null;
  return (
    <span className="json-cut" data-testid="json-cut" title="cut for length: the full value is in the diff below">
      … {count(chars)} more {chars === 1 ? "character" : "characters"}
    </span>
  );
}

function Value({ text, cut }: { text: string | undefined; cut: number | undefined }) {
  if (text === undefined) return null;
  return (
    <code className="json-value">
      <SafeText text={text} inline />
      <Cut chars={cut} />
    </code>
  );
}

function Row({ change }: { change: PathChange }) {
  return (
    <tr className={`json-path json-${change.op}`} data-testid="json-path" data-op={change.op}>
      <td className="json-sign" title={change.op} aria-label={change.op}>
        {SIGN[change.op]}
      </td>
      <td className="json-pointer">
        {change.pointer === "" ? (
          <span className="json-root">(whole value)</span>
        ) : (
          <code>
            <SafeText text={change.pointer} inline />
            <Cut chars={change.pointer_cut} />
          </code>
        )}
      </td>
      <td className="json-values">
        <Value text={change.old} cut={change.old_cut} />
        {change.op === "changed" && (
          <span className="json-arrow" aria-label="becomes">
            {" → "}
          </span>
        )}
        <Value text={change.new} cut={change.new_cut} />
      </td>
    </tr>
  );
}

/**
 * The structural diff of a JSON draft (from the core's `jsondiff`): one row per changed JSON
 * Pointer (RFC 6901) with its old and new value as compact JSON, shown above the line diff.
 * Every string an agent controls (pointers and values) goes through SafeText.
 */
export function JsonPathsView({ paths }: { paths: JsonPaths }) {
  const total = paths.changes.length + paths.more;
  return (
    <section className="json-paths" data-testid="json-paths" aria-label="Changed paths">
      <h3 className="json-paths-title">
        Changed paths <span className="json-paths-count">({count(total)})</span>
      </h3>
      {total === 0 ? (
        <p className="note">No path changes: old and new are the same JSON value.</p>
      ) : (
        <div className="json-paths-list">
          <table className="json-paths-table">
            <tbody>
              {paths.changes.map((c, i) => (
                <Row key={i} change={c} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {paths.more > 0 && (
        <p className="json-paths-more" data-testid="json-paths-more">
          … and {count(paths.more)} more changed {paths.more === 1 ? "path" : "paths"}, not listed: the diff below
          shows every line.
        </p>
      )}
    </section>
  );
}

import type { DiffLine } from "../bindings/DiffLine";
import type { TextDiff } from "../bindings/TextDiff";
import { SafeText } from "./SafeText";

const GUTTER = { added: "+", removed: "-", context: " " } as const;

function Line({ line }: { line: DiffLine }) {
  return (
    <tr className={`diff-line diff-${line.tag}`} data-tag={line.tag}>
      <td className="diff-num diff-num-old">{line.old_line ?? ""}</td>
      <td className="diff-num diff-num-new">{line.new_line ?? ""}</td>
      <td className="diff-gutter" aria-label={line.tag}>
        {GUTTER[line.tag]}
      </td>
      <td className="diff-text">
        {line.segments.map((s, i) =>
          s.emphasized ? (
            <mark key={i} className="diff-emph">
              <SafeText text={s.text} />
            </mark>
          ) : (
            <SafeText key={i} text={s.text} />
          ),
        )}
      </td>
    </tr>
  );
}

/**
 * A unified diff: old and new line numbers, a `+`/`-` gutter (so the change reads without
 * colour), and the words that changed within a line emphasized.
 */
export function TextDiffView({ diff }: { diff: TextDiff }) {
  return (
    <div className="diff" data-testid="diff">
      <div className="diff-stats">
        <span className="diff-stat-added">+{diff.added}</span>{" "}
        <span className="diff-stat-removed">−{diff.removed}</span>
      </div>
      {diff.hunks.length === 0 ? (
        <p className="empty">No changes: the new text equals the current text.</p>
      ) : (
        <table className="diff-table">
          {diff.hunks.map((h, hi) => (
            <tbody key={hi}>
              <tr className="diff-hunk-header">
                <td colSpan={4}>
                  <SafeText text={h.header} />
                </td>
              </tr>
              {h.lines.map((l, li) => (
                <Line key={li} line={l} />
              ))}
            </tbody>
          ))}
        </table>
      )}
    </div>
  );
}

import { useMemo } from "react";
import { badgeLabel, codePointLabel, splitHidden } from "../lib/hidden";

const KIND_TITLE = {
  bidi: "bidirectional control: can make text read differently than it runs",
  invisible: "invisible character",
  control: "control character",
} as const;

const SPACE_MARK: Record<number, { mark: string; title: string }> = {
  0x09: { mark: "⇥", title: "tab" },
  0x0a: { mark: "↵", title: "line feed" },
  0x0d: { mark: "␍", title: "carriage return" },
};

type Props = {
  /** Untrusted text, e.g. anything an agent sent. */
  text: string;
  /**
   * One-line view: tabs and line breaks become markers instead of folding into spaces.
   * Default false: the caller's CSS (`white-space: pre-wrap`) keeps them.
   */
  inline?: boolean;
  className?: string;
};

/**
 * The only way agent-supplied text reaches the screen. Renders React text nodes only (never
 * HTML) and replaces every invisible, bidirectional and control character with a visible badge
 * (`<span class="hidden-char" data-codepoint="U+202E">⟨U+202E RLO⟩</span>`), so what is shown
 * is what will be signed. The classification is `lib/hidden.ts`, which mirrors the Rust core.
 */
export function SafeText({ text, inline = false, className }: Props) {
  const parts = useMemo(() => splitHidden(text, inline), [text, inline]);
  return (
    <span className={className ? `safe-text ${className}` : "safe-text"}>
      {parts.map((p, i) => {
        if (p.type === "text") return p.text;
        if (p.type === "hidden") {
          const cp = codePointLabel(p.cp);
          return (
            <span
              key={i}
              className={`hidden-char hidden-${p.kind}`}
              data-codepoint={cp}
              data-kind={p.kind}
              title={`${cp}: ${KIND_TITLE[p.kind]}`}
            >
              {badgeLabel(p.cp, p.kind)}
            </span>
          );
        }
        const m = SPACE_MARK[p.cp] ?? { mark: "?", title: codePointLabel(p.cp) };
        return (
          <span key={i} className="ws-char" data-codepoint={codePointLabel(p.cp)} title={m.title}>
            {m.mark}
          </span>
        );
      })}
    </span>
  );
}

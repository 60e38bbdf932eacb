import { useMemo, type ReactNode } from "react";
import { badgeLabel, codePointLabel, splitHidden } from "../lib/hidden";
import { ansiLabel, scriptOf, splitAnsi, splitMixedScript, type Script } from "../lib/lookalike";

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

/** A word mixing Latin with Cyrillic or Greek: the foreign letters marked, and a badge. */
function MixedWord({ word, scripts }: { word: string; scripts: Script[] }) {
  const label = scripts.join("+");
  return (
    <span
      className="mixed-script"
      data-testid="mixed-script"
      data-scripts={label}
      title={`this word mixes ${scripts.join(" and ")} letters: it can look like a different word (homoglyphs)`}
    >
      {[...word].map((ch, i) => {
        const s = scriptOf(ch);
        if (s === null || s === "Latin") return ch;
        const cp = codePointLabel(ch.codePointAt(0) ?? 0);
        return (
          <mark key={i} className="homoglyph" data-codepoint={cp} title={`${cp}: ${s} letter`}>
            {ch}
          </mark>
        );
      })}
      <span className="hidden-char hidden-mixed" data-kind="mixed">
        ⟨{label}⟩
      </span>
    </span>
  );
}

/** Plain text with its mixed-script words flagged. */
function words(text: string, key: string): ReactNode[] {
  return splitMixedScript(text).map((w, i) =>
    w.type === "text" ? w.text : <MixedWord key={`${key}.${i}`} word={w.word} scripts={w.scripts} />,
  );
}

/**
 * The only way agent-supplied text reaches the screen. Renders React text nodes only (never
 * HTML) and replaces every invisible, bidirectional and control character with a visible badge
 * (`<span class="hidden-char" data-codepoint="U+202E">⟨U+202E RLO⟩</span>`), so what is shown
 * is what will be signed. The classification is `lib/hidden.ts`, which mirrors the Rust core.
 * ANSI escape sequences become one badge each (`⟨ANSI ESC[2K⟩`), and words mixing Latin with
 * Cyrillic or Greek letters are marked (`lib/lookalike.ts`).
 */
export function SafeText({ text, inline = false, className }: Props) {
  const rendered = useMemo(
    () =>
      splitAnsi(text).flatMap((a, ai): ReactNode[] =>
        a.type === "ansi" ? [<AnsiBadge key={`a${ai}`} seq={a.seq} />] : hiddenParts(a.text, inline, `t${ai}`),
      ),
    [text, inline],
  );
  return <span className={className ? `safe-text ${className}` : "safe-text"}>{rendered}</span>;
}

function AnsiBadge({ seq }: { seq: string }) {
  return (
    <span
      className="hidden-char hidden-ansi"
      data-kind="ansi"
      data-codepoint={codePointLabel(seq.codePointAt(0) ?? 0x1b)}
      title="ANSI escape sequence: a terminal acts on it (colours, cursor moves, erasing, links)"
    >
      ⟨ANSI {ansiLabel(seq)}⟩
    </span>
  );
}

function hiddenParts(text: string, inline: boolean, key: string): ReactNode[] {
  return splitHidden(text, inline).flatMap((p, j): ReactNode[] => {
        const i = `${key}.${j}`;
        if (p.type === "text") return words(p.text, i);
        if (p.type === "hidden") {
          const cp = codePointLabel(p.cp);
          return [
            <span
              key={i}
              className={`hidden-char hidden-${p.kind}`}
              data-codepoint={cp}
              data-kind={p.kind}
              title={`${cp}: ${KIND_TITLE[p.kind]}`}
            >
              {badgeLabel(p.cp, p.kind)}
            </span>,
          ];
        }
        const m = SPACE_MARK[p.cp] ?? { mark: "?", title: codePointLabel(p.cp) };
        return [
          <span key={i} className="ws-char" data-codepoint={codePointLabel(p.cp)} title={m.title}>
            {m.mark}
          </span>,
        ];
  });
}

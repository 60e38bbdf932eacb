import type { ReactNode } from "react";
import { SafeText } from "./SafeText";

/**
 * A sanitised Markdown preview built from React elements only (no HTML parsing, no innerHTML):
 * paragraphs, headings, lists, quotes, fenced code, inline code, emphasis, links and images.
 * What it never does: run a script (raw HTML is shown as text), load anything (an image shows
 * its address instead of being fetched), or hide where a link goes (a link is not clickable and
 * shows its real href next to its text, flagged when the text names another address).
 */
export function MarkdownPreview({ source }: { source: string }) {
  return (
    <div className="markdown-preview" data-testid="markdown-preview">
      {blocks(source)}
    </div>
  );
}

const INLINE =
  /(`+)([\s\S]*?)\1|!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|<((?:https?|mailto|ftp|file):[^>\s]+)>|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|\b_([^_\s][^_]*?)_\b/g;

/** The host a string names when it looks like a URL or a domain, else null. */
function namedHost(text: string): string | null {
  const m = /^\s*(?:[a-z][a-z0-9+.-]*:\/\/)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/:?#]\S*)?\s*$/i.exec(text);
  return m ? m[1]!.toLowerCase() : null;
}

function hostOf(href: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#:@]*@)?([^/?#:]+)/i.exec(href);
  return m ? m[2]!.toLowerCase() : null;
}

function Link({ text, href, k }: { text: string; href: string; k: string }) {
  const shown = namedHost(text);
  const real = hostOf(href);
  const mismatch = shown !== null && shown !== real;
  return (
    <span key={k} className={mismatch ? "md-link md-link-mismatch" : "md-link"} data-testid="md-link" data-href={href}>
      <span className="md-link-text">{inline(text, `${k}t`)}</span>{" "}
      <span className="md-href" title="where this link really goes">
        ⟨{mismatch ? "⚠ goes to " : ""}
        <SafeText text={href} inline />⟩
      </span>
    </span>
  );
}

/** Inline Markdown of one block as React nodes; everything else is text. */
export function inline(text: string, key = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let n = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index ?? 0;
    if (at > last) out.push(<SafeText key={`${key}${n++}`} text={text.slice(last, at)} />);
    const k = `${key}${n++}`;
    if (m[1] !== undefined) {
      out.push(
        <code key={k}>
          <SafeText text={m[2]!} inline />
        </code>,
      );
    } else if (m[4] !== undefined) {
      out.push(
        <span key={k} className="md-image" data-testid="md-image">
          [image{m[3] ? <> “<SafeText text={m[3]} inline />”</> : null}, not loaded: <code><SafeText text={m[4]} inline /></code>]
        </span>,
      );
    } else if (m[5] !== undefined) {
      out.push(<Link key={k} k={k} text={m[5]} href={m[6] ?? ""} />);
    } else if (m[7] !== undefined) {
      out.push(<Link key={k} k={k} text={m[7]} href={m[7]} />);
    } else if (m[8] !== undefined || m[9] !== undefined) {
      out.push(<strong key={k}>{inline((m[8] ?? m[9])!, `${k}b`)}</strong>);
    } else {
      out.push(<em key={k}>{inline((m[10] ?? m[11])!, `${k}e`)}</em>);
    }
    last = at + m[0].length;
  }
  if (last < text.length) out.push(<SafeText key={`${key}${n++}`} text={text.slice(last)} />);
  return out;
}

const LIST_ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;

/** Block-level Markdown: fenced code, headings, quotes, lists, paragraphs. */
export function blocks(source: string): ReactNode[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const out: ReactNode[] = [];
  let i = 0;
  let n = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const k = `b${n++}`;
    const fence = /^\s{0,3}(```+|~~~+)/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!)) body.push(lines[i++]!);
      i++;
      out.push(
        <pre key={k} className="code-block">
          <code>
            <SafeText text={body.join("\n")} />
          </code>
        </pre>,
      );
      continue;
    }
    if (line.trim() === "") {
      i++;
      continue;
    }
    const heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      out.push(
        <p key={k} className={`md-h md-h${heading[1]!.length}`} role="heading" aria-level={heading[1]!.length + 2}>
          {inline(heading[2]!, k)}
        </p>,
      );
      i++;
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i]!)) body.push(lines[i++]!.replace(/^\s{0,3}>\s?/, ""));
      out.push(<blockquote key={k}>{blocks(body.join("\n"))}</blockquote>);
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const ordered = /\d/.test(item[1]!);
      const items: string[] = [];
      while (i < lines.length) {
        const it = LIST_ITEM.exec(lines[i]!);
        if (it && /\d/.test(it[1]!) === ordered) items.push(it[2]!);
        else if (items.length > 0 && /^\s{2,}\S/.test(lines[i]!)) items[items.length - 1] += `\n${lines[i]!.trim()}`;
        else break;
        i++;
      }
      const lis = items.map((t, j) => <li key={j}>{inline(t, `${k}.${j}`)}</li>);
      out.push(ordered ? <ol key={k}>{lis}</ol> : <ul key={k}>{lis}</ul>);
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i]!.trim() !== "" &&
      !/^\s{0,3}(```|~~~|#{1,6}\s|>)/.test(lines[i]!) &&
      !LIST_ITEM.test(lines[i]!)
    ) {
      para.push(lines[i++]!);
    }
    // Whatever no rule took is a one-line paragraph, so the loop always moves on.
    if (para.length === 0) para.push(lines[i++]!);
    out.push(<p key={k}>{inline(para.join("\n"), k)}</p>);
  }
  return out;
}

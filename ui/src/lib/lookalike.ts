/**
 * Two more ways text hides what it says, beyond the invisible characters of `hidden.ts`:
 *
 * - **Mixed-script words** (Unicode TR #39 §5.1, "mixed-script confusables"): a word that mixes
 *   Latin letters with Cyrillic or Greek ones, e.g. `pаypal` with a Cyrillic `а` (U+0430). Each
 *   script alone is fine; mixing them inside one word is the homoglyph trick.
 * - **ANSI escape sequences** (ECMA-48): `ESC [ 2 K` erases a terminal line, `ESC ] … BEL` sets
 *   a title or a hyperlink. A reviewer reading a log or a command must see them as one unit.
 */

/** Scripts checked for mixing; `Latin` plus one of the others in a word is flagged. */
export type Script = "Latin" | "Cyrillic" | "Greek";

const SCRIPT_RE: Record<Script, RegExp> = {
  Latin: /\p{Script=Latin}/u,
  Cyrillic: /\p{Script=Cyrillic}/u,
  Greek: /\p{Script=Greek}/u,
};

/** The scripts (of the three) that occur in `ch`, a single character; `null` for none. */
export function scriptOf(ch: string): Script | null {
  for (const s of ["Latin", "Cyrillic", "Greek"] as const) if (SCRIPT_RE[s].test(ch)) return s;
  return null;
}

/** Scripts used in `word`, in first-seen order. */
export function scriptsIn(word: string): Script[] {
  const seen: Script[] = [];
  for (const ch of word) {
    const s = scriptOf(ch);
    if (s && !seen.includes(s)) seen.push(s);
  }
  return seen;
}

/** A Cyrillic or Greek letter: without one, no word of a text can mix scripts. */
const FOREIGN = /[\p{Script=Cyrillic}\p{Script=Greek}]/u;

/** A word mixes Latin with Cyrillic or Greek. */
export function isMixedScript(word: string): boolean {
  return FOREIGN.test(word) && SCRIPT_RE.Latin.test(word);
}

/** Letters, combining marks and digits: what a word is made of for this check. */
const WORD = /[\p{L}\p{M}\p{Nd}]+/gu;

/** A run of text: plain, or one mixed-script word. */
export type WordPart = { type: "text"; text: string } | { type: "mixed"; word: string; scripts: Script[] };

/** Splits `text` so that every mixed-script word is its own part. */
export function splitMixedScript(text: string): WordPart[] {
  // Most text (code, English) has no Cyrillic or Greek letter at all: one scan decides.
  if (!FOREIGN.test(text)) return text ? [{ type: "text", text }] : [];
  const parts: WordPart[] = [];
  let last = 0;
  for (const m of text.matchAll(WORD)) {
    if (!isMixedScript(m[0])) continue;
    const at = m.index ?? 0;
    if (at > last) parts.push({ type: "text", text: text.slice(last, at) });
    parts.push({ type: "mixed", word: m[0], scripts: scriptsIn(m[0]) });
    last = at + m[0].length;
  }
  if (last < text.length) parts.push({ type: "text", text: text.slice(last) });
  return parts;
}

/**
 * ECMA-48 sequences: CSI (`ESC [` parameters, intermediates, final byte), OSC (`ESC ]` … BEL or
 * `ESC \`), and two-character escapes (`ESC` + a byte in 0x40–0x5F, or the common
 * `ESC 7`/`ESC 8` cursor save/restore, `ESC =`/`ESC >` keypad modes and `ESC c` reset). The C1 form of CSI
 * (U+009B) is matched too.
 */
const ANSI = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\^_78=>c]/gu;

/** A run of text: plain, or one ANSI escape sequence. */
export type AnsiPart = { type: "text"; text: string } | { type: "ansi"; seq: string };

/** Splits `text` so that every ANSI escape sequence is its own part. */
export function splitAnsi(text: string): AnsiPart[] {
  if (!text.includes("\u001b") && !text.includes("\u009b")) return [{ type: "text", text }];
  const parts: AnsiPart[] = [];
  let last = 0;
  for (const m of text.matchAll(ANSI)) {
    const at = m.index ?? 0;
    if (at > last) parts.push({ type: "text", text: text.slice(last, at) });
    parts.push({ type: "ansi", seq: m[0] });
    last = at + m[0].length;
  }
  if (last < text.length) parts.push({ type: "text", text: text.slice(last) });
  return parts;
}

/** `ESC[2K` → `ESC[2K`, `ESC]8;;http://x BEL` → `ESC]8;;http://x BEL`: printable form of a sequence. */
export function ansiLabel(seq: string): string {
  return [...seq]
    .map((ch) => {
      const cp = ch.codePointAt(0) ?? 0;
      if (cp === 0x1b) return "ESC";
      if (cp === 0x9b) return "CSI";
      if (cp === 0x07) return " BEL";
      return ch;
    })
    .join("");
}

/** Mixed-script words and ANSI sequences in every string and key of a JSON value. */
export function countLookalikes(value: unknown): { mixed: number; ansi: number } {
  const c = { mixed: 0, ansi: 0 };
  const add = (s: string) => {
    c.ansi += splitAnsi(s).filter((p) => p.type === "ansi").length;
    c.mixed += splitMixedScript(s).filter((p) => p.type === "mixed").length;
  };
  const walk = (v: unknown) => {
    if (typeof v === "string") add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        add(k);
        walk(item);
      }
    }
  };
  walk(value);
  return c;
}

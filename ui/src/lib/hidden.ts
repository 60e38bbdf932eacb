/**
 * Characters that hide what text says: invisible, bidirectional and control characters
 * (the "Trojan Source" class, CVE-2021-42574; Unicode TR #36 §2.2; UAX #9 for bidi controls).
 *
 * The classification mirrors `crates/countersign-core/src/text.rs` exactly, so the count the
 * UI shows agrees with the `content.bidi` / `content.invisible` risk factors. Change both together.
 */

/** What kind of hidden character was found. */
export type HiddenKind = "bidi" | "invisible" | "control";

/** Classifies one code point; `null` for ordinary visible characters (and tab, LF, CR). */
export function classify(cp: number): HiddenKind | null {
  if (
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c
  ) {
    return "bidi";
  }
  if (
    (cp >= 0x200b && cp <= 0x200d) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    cp === 0xfeff ||
    cp === 0x00ad ||
    cp === 0x180e ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xe0000 && cp <= 0xe007f)
  ) {
    return "invisible";
  }
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d) {
    return null;
  }
  // Rust's `char::is_control`: general category Cc, i.e. C0 (U+0000–U+001F), DEL and C1
  // (U+007F–U+009F).
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) {
    return "control";
  }
  return null;
}

/**
 * Every code point {@link classify} reports, as one character class (a test checks the two
 * agree over the whole range), so that long text is scanned by the regex engine, not a loop.
 */
const HIDDEN =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufe00-\ufe0f\ufeff\u{e0000}-\u{e007f}]/u;
const HIDDEN_ALL = new RegExp(HIDDEN.source, "gu");

const C0_NAMES = [
  "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
  "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
  "FS", "GS", "RS", "US",
];

const C1_NAMES = [
  "PAD", "HOP", "BPH", "NBH", "IND", "NEL", "SSA", "ESA", "HTS", "HTJ", "VTS", "PLD", "PLU", "RI",
  "SS2", "SS3", "DCS", "PU1", "PU2", "STS", "CCH", "MW", "SPA", "EPA", "SOS", "SGC", "SCI", "CSI",
  "ST", "OSC", "PM", "APC",
];

const NAMED: Record<number, string> = {
  0x061c: "ALM",
  0x200b: "ZWSP",
  0x200c: "ZWNJ",
  0x200d: "ZWJ",
  0x200e: "LRM",
  0x200f: "RLM",
  0x202a: "LRE",
  0x202b: "RLE",
  0x202c: "PDF",
  0x202d: "LRO",
  0x202e: "RLO",
  0x2060: "WJ",
  0x2061: "FA",
  0x2062: "IT",
  0x2063: "IS",
  0x2064: "IP",
  0x2066: "LRI",
  0x2067: "RLI",
  0x2068: "FSI",
  0x2069: "PDI",
  0xfeff: "BOM",
  0x00ad: "SHY",
  0x180e: "MVS",
  0x007f: "DEL",
};

/** `U+202E`: at least four upper-case hex digits, as Unicode writes code points. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Short name of a hidden character: `RLO`, `ZWSP`, `ESC`, `VS16`, `TAG A`. */
export function shortName(cp: number): string {
  const named = NAMED[cp];
  if (named !== undefined) return named;
  if (cp <= 0x1f) return C0_NAMES[cp] ?? "CTRL";
  if (cp >= 0x80 && cp <= 0x9f) return C1_NAMES[cp - 0x80] ?? "CTRL";
  if (cp >= 0xfe00 && cp <= 0xfe0f) return `VS${cp - 0xfe00 + 1}`;
  if (cp === 0xe0001) return "LANG TAG";
  if (cp === 0xe007f) return "CANCEL TAG";
  // Tag characters mirror ASCII; naming the letter reveals text smuggled in them.
  if (cp >= 0xe0020 && cp <= 0xe007e) {
    const ascii = cp - 0xe0000;
    return ascii === 0x20 ? "TAG SPACE" : `TAG ${String.fromCharCode(ascii)}`;
  }
  if (cp >= 0xe0000 && cp <= 0xe007f) return "TAG";
  return "";
}

/**
 * Visible label of a badge: `⟨U+202E RLO⟩` for bidi and invisible characters, `⟨ESC⟩` for
 * control characters (whose short names are unambiguous).
 */
export function badgeLabel(cp: number, kind: HiddenKind): string {
  const name = shortName(cp);
  if (kind === "control") return `⟨${name || codePointLabel(cp)}⟩`;
  return name ? `⟨${codePointLabel(cp)} ${name}⟩` : `⟨${codePointLabel(cp)}⟩`;
}

/** A run of a string: ordinary text, a hidden character, or (inline mode) a line break or tab. */
export type Part =
  | { type: "text"; text: string }
  | { type: "hidden"; cp: number; kind: HiddenKind }
  | { type: "space"; cp: number };

/**
 * Splits `text` into runs of ordinary text and single hidden characters. With `inline`, tab,
 * line feed and carriage return also become their own parts (shown as markers), because a
 * one-line view would otherwise fold them into a space. A lone carriage return is always a
 * part: it never renders and can make two strings look equal.
 */
export function splitHidden(text: string, inline = false): Part[] {
  // Most text has nothing to split: one regex scan instead of a loop over every character.
  if (!HIDDEN.test(text) && !text.includes("\r") && !(inline && /[\n\t]/.test(text))) {
    return text ? [{ type: "text", text }] : [];
  }
  const parts: Part[] = [];
  let run = "";
  const flush = () => {
    if (run) {
      parts.push({ type: "text", text: run });
      run = "";
    }
  };
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const kind = classify(cp);
    if (kind) {
      flush();
      parts.push({ type: "hidden", cp, kind });
    } else if (cp === 0x0d || (inline && (cp === 0x0a || cp === 0x09))) {
      flush();
      parts.push({ type: "space", cp });
    } else {
      run += ch;
    }
  }
  flush();
  return parts;
}

/** Hidden characters by kind. */
export type HiddenCount = { bidi: number; invisible: number; control: number; total: number };

/** Counts hidden characters in a string. */
export function countHiddenIn(text: string): HiddenCount {
  const c: HiddenCount = { bidi: 0, invisible: 0, control: 0, total: 0 };
  // The regex engine finds the candidates (a 5 MiB payload in milliseconds); `classify` decides.
  for (const m of text.matchAll(HIDDEN_ALL)) {
    const kind = classify(m[0].codePointAt(0) ?? 0);
    if (kind) {
      c[kind] += 1;
      c.total += 1;
    }
  }
  return c;
}

/** Counts hidden characters in every string and object key of a JSON value. */
export function countHidden(value: unknown): HiddenCount {
  const total: HiddenCount = { bidi: 0, invisible: 0, control: 0, total: 0 };
  const add = (s: string) => {
    const c = countHiddenIn(s);
    total.bidi += c.bidi;
    total.invisible += c.invisible;
    total.control += c.control;
    total.total += c.total;
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
  return total;
}

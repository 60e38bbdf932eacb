import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { classify, countHidden, countHiddenIn, splitHidden } from "../lib/hidden";
import { isMixedScript, scriptsIn } from "../lib/lookalike";
import { SafeText } from "./SafeText";

function badges(container: HTMLElement) {
  return [...container.querySelectorAll<HTMLElement>(".hidden-char")].map((b) => ({
    cp: b.dataset.codepoint,
    kind: b.dataset.kind,
    text: b.textContent,
  }));
}

describe("SafeText", () => {
  it.each([
    ["bidi override", "\u202E", "U+202E", "bidi", "⟨U+202E RLO⟩"],
    ["bidi isolate", "\u2066", "U+2066", "bidi", "⟨U+2066 LRI⟩"],
    ["right-to-left mark", "\u200F", "U+200F", "bidi", "⟨U+200F RLM⟩"],
    ["arabic letter mark", "\u061C", "U+061C", "bidi", "⟨U+061C ALM⟩"],
    ["zero width space", "\u200B", "U+200B", "invisible", "⟨U+200B ZWSP⟩"],
    ["word joiner", "\u2060", "U+2060", "invisible", "⟨U+2060 WJ⟩"],
    ["byte order mark", "\uFEFF", "U+FEFF", "invisible", "⟨U+FEFF BOM⟩"],
    ["soft hyphen", "\u00AD", "U+00AD", "invisible", "⟨U+00AD SHY⟩"],
    ["variation selector", "\uFE0F", "U+FE0F", "invisible", "⟨U+FE0F VS16⟩"],
    ["tag character (astral, smuggled ASCII)", "\u{E0041}", "U+E0041", "invisible", "⟨U+E0041 TAG A⟩"],
    ["escape", "\u001B", "U+001B", "control", "⟨ESC⟩"],
    ["null", "\u0000", "U+0000", "control", "⟨NUL⟩"],
    ["delete", "\u007F", "U+007F", "control", "⟨DEL⟩"],
    ["C1 next line", "\u0085", "U+0085", "control", "⟨NEL⟩"],
  ])("shows a %s as one visible badge", (_name, ch, cp, kind, label) => {
    const { container } = render(<SafeText text={`a${ch}b`} />);
    expect(badges(container), "exactly one badge, with its code point and class").toEqual([{ cp, kind, text: label }]);
    expect(container.textContent, "the surrounding text is kept in order").toBe(`a${label}b`);
    expect(container.textContent, "the raw character never reaches the DOM").not.toContain(ch);
  });

  it("leaves plain text, accents and emoji unchanged", () => {
    const text = "Grant read on `user_data` — café 👍 日本語";
    const { container } = render(<SafeText text={text} />);
    expect(container.textContent).toBe(text);
    expect(container.querySelectorAll(".hidden-char")).toHaveLength(0);
  });

  it("renders an HTML-looking string as literal text, creating no element", () => {
    const text = '<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>';
    const { container } = render(<SafeText text={text} />);
    expect(container.querySelector("img, script, b"), "markup must stay text").toBeNull();
    expect(container.textContent).toBe(text);
  });

  it("keeps tab and newline as text in block mode but marks them inline", () => {
    const block = render(<SafeText text={"a\tb\nc"} />);
    expect(block.container.textContent).toBe("a\tb\nc");
    expect(block.container.querySelectorAll(".hidden-char, .ws-char")).toHaveLength(0);
    block.unmount();
    const inline = render(<SafeText text={"a\tb\nc"} inline />);
    const marks = [...inline.container.querySelectorAll<HTMLElement>(".ws-char")].map((m) => m.dataset.codepoint);
    expect(marks, "tab and line feed are visible markers in a one-line view").toEqual(["U+0009", "U+000A"]);
    expect(inline.container.querySelectorAll(".hidden-char"), "they are not counted as hidden").toHaveLength(0);
  });

  it("always marks a carriage return, which would otherwise be invisible", () => {
    const { container } = render(<SafeText text={"rm -rf /tmp/x\r"} />);
    expect(container.querySelector<HTMLElement>(".ws-char")?.dataset.codepoint).toBe("U+000D");
  });

  it("reveals a Trojan Source line in logical order", () => {
    const { container } = render(<SafeText text={"access = \u202Euser\u2066 // admin\u2069\u202C"} />);
    expect(badges(container).map((b) => b.cp)).toEqual(["U+202E", "U+2066", "U+2069", "U+202C"]);
  });
});

describe("hidden-character classification (mirrors countersign-core text.rs)", () => {
  it("matches the Rust ranges at their edges", () => {
    expect(classify(0x202a)).toBe("bidi");
    expect(classify(0x202f), "narrow no-break space is visible").toBeNull();
    expect(classify(0x2069)).toBe("bidi");
    expect(classify(0x206a)).toBeNull();
    expect(classify(0x200d)).toBe("invisible");
    expect(classify(0x2064)).toBe("invisible");
    expect(classify(0x2065)).toBeNull();
    expect(classify(0xe007f)).toBe("invisible");
    expect(classify(0xe0080)).toBeNull();
    expect(classify(0x1f)).toBe("control");
    expect(classify(0x20)).toBeNull();
    expect(classify(0x9f)).toBe("control");
    expect(classify(0xa0)).toBeNull();
    for (const ws of [0x09, 0x0a, 0x0d]) expect(classify(ws)).toBeNull();
  });

  it("splits astral characters by code point, not UTF-16 unit", () => {
    expect(splitHidden("\u{E0068}\u{E0069}")).toEqual([
      { type: "hidden", cp: 0xe0068, kind: "invisible" },
      { type: "hidden", cp: 0xe0069, kind: "invisible" },
    ]);
  });

  it("finds, with its regex scan, exactly the code points classify() reports, over the whole range", () => {
    const missed: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // surrogates are not code points of a string
      const ch = String.fromCodePoint(cp);
      const kind = classify(cp);
      const counted = countHiddenIn(ch);
      const split = splitHidden(ch);
      if (counted.total !== (kind ? 1 : 0) || (kind !== null) !== (split[0]?.type === "hidden")) {
        missed.push(cp.toString(16));
      }
    }
    expect(missed, "the scan and the classification must agree, or a hidden character goes unbadged").toEqual([]);
  });

  it("counts hidden characters in strings and keys of nested JSON", () => {
    const c = countHidden({ summary: "a\u202Eb", payload: { ["k\u200B"]: ["\u001B[31m", 3, null] } });
    expect(c).toEqual({ bidi: 1, invisible: 1, control: 1, total: 3 });
  });
});

describe("SafeText: lookalikes and terminal escapes", () => {
  it.each([
    ["Cyrillic a in a Latin word", "pay \u0070\u0430ypal now", "Latin+Cyrillic", ["U+0430"]],
    ["Greek omicron in a Latin word", "g\u03BFogle", "Latin+Greek", ["U+03BF"]],
    ["Latin o in a Cyrillic word", "\u043F\u0440o\u0434", "Cyrillic+Latin", ["U+043F", "U+0440", "U+0434"]],
  ])("flags a word mixing scripts: %s", (_name, text, scripts, marked) => {
    const { container } = render(<SafeText text={text} />);
    const words = container.querySelectorAll<HTMLElement>('[data-testid="mixed-script"]');
    expect(words).toHaveLength(1);
    expect(words[0]!.dataset.scripts).toBe(scripts);
    expect([...words[0]!.querySelectorAll<HTMLElement>("mark.homoglyph")].map((m) => m.dataset.codepoint)).toEqual(marked);
    expect(words[0]!.querySelector(".hidden-mixed")!.textContent).toBe(`⟨${scripts}⟩`);
  });

  it.each([
    ["plain English", "grant read to your team"],
    ["a whole Cyrillic word next to a Latin one", "\u043F\u0440\u0438\u0432\u0435\u0442 hello"],
    ["Greek maths in its own word", "the \u03C0 constant"],
    ["accented Latin", "café naïve"],
  ])("leaves %s alone", (_name, text) => {
    const { container } = render(<SafeText text={text} />);
    expect(container.querySelector('[data-testid="mixed-script"]')).toBeNull();
    expect(container.textContent).toBe(text);
  });

  it.each([
    ["erase line (CSI)", "a\u001B[2Kb", "⟨ANSI ESC[2K⟩"],
    ["colour (CSI with parameters)", "\u001B[1;31mred", "⟨ANSI ESC[1;31m⟩"],
    ["hyperlink (OSC ended by BEL)", "\u001B]8;;http://evil.example\u0007x", "⟨ANSI ESC]8;;http://evil.example BEL⟩"],
    ["cursor save (two-character escape)", "\u001B7x", "⟨ANSI ESC7⟩"],
  ])("shows an ANSI escape sequence as one badge: %s", (_name, text, label) => {
    const { container } = render(<SafeText text={text} />);
    const ansi = container.querySelectorAll<HTMLElement>('.hidden-char[data-kind="ansi"]');
    expect(ansi.length).toBeGreaterThanOrEqual(1);
    expect(ansi[0]!.textContent).toBe(label);
    expect(ansi[0]!.dataset.codepoint).toBe("U+001B");
  });

  it("decides a mixed-script word as the letter-by-letter check does", () => {
    for (const word of ["p\u0430ypal", "g\u03BFogle", "\u043F\u0440o\u0434", "paypal", "\u043F\u0440\u0438", "\u03C0", "caf\u00E9", "x1\u0391"]) {
      const s = scriptsIn(word);
      expect(isMixedScript(word), word).toBe(s.includes("Latin") && (s.includes("Cyrillic") || s.includes("Greek")));
    }
  });

  it("still shows a lone ESC as a control badge", () => {
    const { container } = render(<SafeText text={"x\u001B"} />);
    expect(container.querySelector('.hidden-char[data-kind="control"]')!.textContent).toBe("⟨ESC⟩");
  });
});

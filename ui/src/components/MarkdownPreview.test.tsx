import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { postDiff } from "../test/fixtures";
import { ChangeView } from "./ChangeView";
import { MarkdownPreview } from "./MarkdownPreview";

describe("Markdown preview", () => {
  it("is off by default: the post is shown raw until asked", async () => {
    const user = userEvent.setup();
    render(<ChangeView change={{ type: "text", label: "post", diff: postDiff, before_known: true }} markdown={"**hi**"} />);
    expect(screen.queryByTestId("markdown-preview")).toBeNull();
    await user.click(screen.getByTestId("md-toggle"));
    expect(screen.getByTestId("markdown-preview").querySelector("strong")!.textContent).toBe("hi");
  });

  it("renders headings, lists, quotes, code and emphasis as elements", () => {
    const { container } = render(
      <MarkdownPreview source={"# Title\n\nSome *em* and **strong** and `code`.\n\n- one\n- two\n\n1. first\n\n> quoted\n\n```\nrm -rf /\n```"} />,
    );
    expect(container.querySelector('[role="heading"]')!.textContent).toBe("Title");
    expect(container.querySelector("em")!.textContent).toBe("em");
    expect(container.querySelector("strong")!.textContent).toBe("strong");
    expect([...container.querySelectorAll("ul li")].map((l) => l.textContent)).toEqual(["one", "two"]);
    expect(container.querySelector("ol li")!.textContent).toBe("first");
    expect(container.querySelector("blockquote")!.textContent).toBe("quoted");
    expect(container.querySelector("pre code")!.textContent).toBe("rm -rf /");
  });

  it("never creates HTML from the source: tags and scripts stay text", () => {
    const src = '<script>alert(1)</script><img src="http://evil.example/x.png" onerror="alert(2)"><a href="http://x">x</a>';
    const { container } = render(<MarkdownPreview source={src} />);
    for (const tag of ["script", "img", "a", "iframe"]) expect(container.querySelector(tag), tag).toBeNull();
    expect(container.textContent).toBe(src);
  });

  it("loads no image: it shows the address instead", () => {
    const { container } = render(<MarkdownPreview source={'![logo](https://tracker.example/p.gif "t")'} />);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByTestId("md-image").textContent).toBe("[image “logo”, not loaded: https://tracker.example/p.gif]");
  });

  it("shows every link's real href, is not clickable, and flags text naming another host", () => {
    const { container } = render(
      <MarkdownPreview source={"See [the docs](https://docs.example.com/a) or [https://bank.example.com](https://evil.example.net/login) or <https://plain.example.org>"} />,
    );
    expect(container.querySelector("a")).toBeNull();
    const links = screen.getAllByTestId("md-link");
    expect(links.map((l) => l.dataset.href)).toEqual([
      "https://docs.example.com/a",
      "https://evil.example.net/login",
      "https://plain.example.org",
    ]);
    expect(links[0]!.textContent).toBe("the docs ⟨https://docs.example.com/a⟩");
    expect(links[0]!.classList.contains("md-link-mismatch")).toBe(false);
    expect(links[1]!.classList.contains("md-link-mismatch"), "the text names bank.example.com, the link goes elsewhere").toBe(true);
    expect(links[1]!.textContent).toContain("⚠ goes to https://evil.example.net/login");
    expect(links[2]!.classList.contains("md-link-mismatch")).toBe(false);
  });

  it("reveals hidden characters inside the preview too", () => {
    const { container } = render(<MarkdownPreview source={"**gr\u200Bant**"} />);
    expect(container.querySelector<HTMLElement>("strong .hidden-char")!.dataset.codepoint).toBe("U+200B");
  });
});

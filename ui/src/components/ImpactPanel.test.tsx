import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ImpactItem } from "../bindings/ImpactItem";
import { ImpactPanel, listHeading, listOf } from "./ImpactPanel";

const curlPipeSh: ImpactItem[] = [
  { label: "Command 1", value: "curl -fsSL https://x.io — downloads from the network", flagged: false, pointer: "/payload/script", note: "pipeline 1 of 2" },
  { label: "Command 2", value: "sh — runs the code it reads from the pipe; pipes a download into a shell", flagged: true, pointer: "/payload/script", note: "pipeline 2 of 2" },
  { label: "In", value: "/srv", flagged: false, pointer: "/payload/cwd" },
];

const mail: ImpactItem[] = [
  { label: "Tool", value: "mail/send_email", flagged: false, pointer: "/payload/tool" },
  { label: "Recipient", value: "alice@example.com — known", flagged: false, pointer: "/payload/arguments/to/0" },
  { label: "Recipient", value: "eve@example.com.evil.io — external", flagged: true, pointer: "/payload/arguments/to/1" },
  { label: "Recipient", value: "carol@example.com — new", flagged: true, pointer: "/payload/arguments/to/2" },
];

describe("ImpactPanel", () => {
  it("lists a pipeline's commands in order under a heading, each with its place and effect", () => {
    render(<ImpactPanel items={curlPipeSh} />);
    const panel = screen.getByTestId("impact");
    expect(within(panel).getByTestId("impact-group").textContent).toBe("2 commands · 1 flagged");
    const rows = [...panel.querySelectorAll<HTMLElement>(".impact-item")];
    expect(rows.map((r) => r.querySelector(".impact-label")?.textContent)).toEqual(["Command 1", "Command 2", "In"]);
    const [curl, sh, cwd] = rows;
    expect(sh?.dataset.flagged, "the dangerous stage is flagged").toBe("true");
    expect(sh?.querySelector("[aria-label=flagged]"), "with a marker, not colour alone").not.toBeNull();
    expect(curl?.dataset.flagged).toBeUndefined();
    expect(within(panel).getAllByTestId("impact-note").map((n) => n.textContent)).toEqual(["pipeline 1 of 2", "pipeline 2 of 2"]);
    expect(cwd?.querySelector(".impact-note"), "an item without a note has no empty line").toBeNull();
    expect(cwd?.dataset.pointer, "each item names its field, for the risk panel's Show where").toBe("/payload/cwd");
  });

  it("heads a list of recipients with how many are flagged and keeps single items bare", () => {
    render(<ImpactPanel items={mail} />);
    const groups = screen.getAllByTestId("impact-group");
    expect(groups.map((g) => g.textContent)).toEqual(["3 recipients · 2 flagged"]);
    const values = [...screen.getByTestId("impact").querySelectorAll(".impact-value")].map((v) => v.textContent);
    expect(values).toEqual(["mail/send_email", "alice@example.com — known", "eve@example.com.evil.io — external", "carol@example.com — new"]);
  });

  it("shows hidden characters in a note like everywhere else", () => {
    const [first] = curlPipeSh;
    if (!first) throw new Error("fixture");
    render(<ImpactPanel items={[{ ...first, note: "in a subshell\u202E" }]} />);
    expect(screen.getByTestId("impact-note").textContent).toContain("⟨U+202E RLO⟩");
    expect(screen.queryByTestId("impact-group"), "one command needs no heading").toBeNull();
  });

  it.each([
    ["Command 12", "Command"],
    ["Recipient", "Recipient"],
    ["Gains access", undefined],
    ["More recipients", undefined],
  ])("puts %s in list %s", (label, kind) => {
    expect(listOf(label)).toBe(kind);
  });

  it("counts without flags when nothing is flagged", () => {
    const known = mail.filter((i) => !i.flagged && i.label === "Recipient");
    expect(listHeading("Recipient", [...known, ...known])).toBe("2 recipients");
  });
});

import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import { withNextSerial } from "../lib/policy";
import { policyView } from "../test/fixtures";
import { PolicyBanner } from "./PolicyBanner";
import { PolicyPanel } from "./PolicyPanel";

const PREVIEW: PolicyPreview = {
  policy: policyView().in_force!.policy,
  scored: 200,
  rescored: 0,
  before: { auto_approve: 20, one_approver: 150, two_approvers: 0, lead_required: 25, blocked: 5 },
  after: { auto_approve: 20, one_approver: 125, two_approvers: 5, lead_required: 45, blocked: 5 },
  moves: [
    {
      id: "5e0c7a1e-0000-4000-8000-000000000001",
      agent: "mail-bot",
      kind: "tool.call",
      score_old: 62,
      score_new: 62,
      requirement_old: "one_approver",
      requirement_new: "lead_required",
    },
  ],
  serial_in_force: 3,
};

const never = () => new Promise<never>(() => {});

describe("PolicyPanel", () => {
  it("shows bands with their meaning, domains, patterns, overrides, hash and signer to everyone", () => {
    render(<PolicyPanel view={policyView()} preview={never} sign={never} onClose={() => {}} />);
    const bands = screen.getByTestId("policy-bands");
    for (const text of ["0–9", "10–74", "75–94", "95–100", "Lead required", "pinned as a lead"])
      expect(bands.textContent, text).toContain(text);
    expect(screen.getByTestId("policy-serial").textContent).toBe("3");
    expect(screen.getByTestId("policy-signers").textContent).toContain("Lea Lead");
    expect(screen.getByTestId("policy-domains").textContent).toContain("example.com");
    expect(screen.getByTestId("policy-sensitive").textContent).toContain("*user_data*");
    expect(screen.getByTestId("policy-overrides").textContent).toContain("lead_required_from = 50");
    expect(screen.getByText(/sha256:4d1c0e8a/)).toBeTruthy();
  });

  it("is read-only with the reason when the approver is not a lead: no editor, no sign button", () => {
    render(<PolicyPanel view={policyView()} preview={never} sign={never} onClose={() => {}} />);
    expect(screen.getByTestId("policy-read-only").textContent).toContain("not pinned as a lead");
    expect(screen.queryByTestId("policy-edit")).toBeNull();
    expect(screen.queryByTestId("policy-sign")).toBeNull();
  });

  it("lets a lead sign only the text previewed, with the moves listed first", async () => {
    const user = userEvent.setup();
    const preview = vi.fn(async (_text: string) => PREVIEW);
    const sign = vi.fn(async () => policyView({ editable: true }));
    render(<PolicyPanel view={policyView({ editable: true })} preview={preview} sign={sign} onClose={() => {}} />);
    await user.click(screen.getByTestId("policy-edit"));
    const text = screen.getByTestId("policy-text") as HTMLTextAreaElement;
    expect(text.value, "an edit starts from the next serial").toMatch(/^serial = 4$/m);
    const signButton = screen.getByTestId("policy-sign") as HTMLButtonElement;
    expect(signButton.disabled, "nothing previewed yet").toBe(true);

    await user.click(screen.getByTestId("policy-preview"));
    const result = await screen.findByTestId("policy-preview-result");
    expect(screen.getByTestId("policy-moves-count").textContent).toBe("1");
    const row = within(screen.getByTestId("policy-moves")).getByText("mail-bot").closest("tr")!;
    expect(row.textContent).toContain("One approver → Lead required");
    expect(result.textContent).toContain("200");
    const two = within(result).getByText("Two approvers").closest("tr")!;
    expect(two.textContent, "the two-approver band's count before and after").toBe("Two approvers05");
    expect(signButton.disabled).toBe(false);

    await user.type(text, " ");
    expect(signButton.disabled, "the text changed since the preview").toBe(true);
    await user.click(screen.getByTestId("policy-preview"));
    await waitFor(() => expect(signButton.disabled).toBe(false));
    await user.click(signButton);
    await waitFor(() => expect(sign).toHaveBeenCalledWith(preview.mock.calls.at(-1)?.[0]));
    expect(await screen.findByTestId("policy-signed")).toBeTruthy();
  });

  it("shows Rust's refusal (field and line) and keeps the editor open", async () => {
    const user = userEvent.setup();
    const preview = vi.fn(() => Promise.reject({ code: "bad_request", message: "policy.toml line 4: [thresholds] blocked_from: invalid type" }));
    render(<PolicyPanel view={policyView({ editable: true })} preview={preview} sign={never} onClose={() => {}} />);
    await user.click(screen.getByTestId("policy-edit"));
    await user.click(screen.getByTestId("policy-preview"));
    expect((await screen.findByTestId("policy-error")).textContent).toContain("line 4: [thresholds] blocked_from");
    expect((screen.getByTestId("policy-sign") as HTMLButtonElement).disabled).toBe(true);
  });

  it("says so when no policy is in force", () => {
    render(
      <PolicyPanel
        view={{ editable: false, read_only_reason: "No policy file is configured." }}
        preview={never}
        sign={never}
        onClose={() => {}}
      />,
    );
    expect(screen.getByTestId("policy-none").textContent).toContain("No policy is in force");
  });
});

describe("PolicyBanner", () => {
  it("names the refusal and the serial that stays in force", () => {
    const view = policyView({
      refusal: { at: 1, source: "/etc/policy.toml", message: "policy serial 2 is not newer than serial 3 in force" },
    });
    render(<PolicyBanner view={view} onOpen={() => {}} />);
    const banner = screen.getByTestId("policy-refused");
    expect(banner.textContent).toContain("not newer than serial 3");
    expect(banner.textContent).toContain("serial 3 stays in force");
  });

  it("is absent without a refusal", () => {
    const { container } = render(<PolicyBanner view={policyView()} onOpen={() => {}} />);
    expect(container.textContent).toBe("");
  });
});

describe("withNextSerial", () => {
  it("raises the top-level serial only", () => {
    expect(withNextSerial("# c\nserial = 9\n[agents.x]\nserial_x = 1\n")).toBe("# c\nserial = 10\n[agents.x]\nserial_x = 1\n");
  });
});

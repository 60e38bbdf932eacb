import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { CosignInfo } from "../bindings/CosignInfo";
import type { CosignReview } from "../bindings/CosignReview";
import { detail, NOW } from "../test/fixtures";
import { CosignPanel } from "./CosignPanel";
import { CosignSheet } from "./CosignSheet";
import { Detail } from "./Detail";

const INFO: CosignInfo = {
  signers: [{ name: "ana", role: "approver", keyid: "sha256:aa" }],
  required: { approvals: 2, lead: true },
  missing: "1 distinct approver(s) signed, 2 required; one of them must be a key pinned as `lead`",
  exp: NOW + 240,
};

function review(mismatch: string | undefined): CosignReview {
  const d = detail({ score: 82, level: "critical" });
  return {
    request: {
      v: 1,
      type: "countersign.cosign-request",
      action_id: d.summary.id,
      agent: "forum-bot",
      action: d.action,
      action_digest: d.action_digest,
      risk: { score: 3, level: "low", factors: [] },
      required: { approvals: 2, lead: true },
      envelope: { payload: "e30=", payloadType: "application/vnd.countersign.decision.v1+json", signatures: [] },
    },
    review: d.review,
    risk: d.risk,
    risk_mismatch: mismatch,
    requested_by: "ana (sha256:aa)",
    exp: NOW + 240,
  };
}

const file = (text: string) => new File([text], "request.json", { type: "application/json" });
const never = () => new Promise<never>(() => {});

describe("co-signing in the window", () => {
  it.each([
    { lead: true, who: "a lead", note: "until a lead co-signs" },
    { lead: false, who: "a second approver", note: "until a second approver co-signs" },
  ])("a draft that needs $who is approved for co-signing, not plainly", async ({ lead, who, note }) => {
    const onApprove = vi.fn();
    const onApproveForCosign = vi.fn();
    render(
      <Detail
        detail={detail({ level: "medium" }, { cosign_needed: { approvals: 2, lead } })}
        now={NOW}
        busy={false}
        onApprove={onApprove}
        onApproveEdited={vi.fn()}
        onReject={vi.fn()}
        onApproveForCosign={onApproveForCosign}
      />,
    );
    expect(screen.getByTestId("cosign-needed").textContent).toContain(note);
    await userEvent.click(screen.getByRole("button", { name: `Approve, ask ${who} to co-sign` }));
    expect(onApproveForCosign).toHaveBeenCalledWith(expect.any(String), expect.stringMatching(/^sha256:/));
    expect(onApprove).not.toHaveBeenCalled();
  });

  it("an approval awaiting co-signature shows who signed and what is missing, and cannot be approved again", () => {
    render(
      <Detail
        detail={detail({}, { cosign_needed: { approvals: 2, lead: true }, cosign: INFO })}
        now={NOW}
        busy={false}
        onApprove={vi.fn()}
        onApproveEdited={vi.fn()}
        onReject={vi.fn()}
        onApproveForCosign={vi.fn()}
        cosignFiles={{ exportRequest: never, importResponse: never, onChanged: () => {} }}
      />,
    );
    expect(screen.getByTestId("cosign-signers").textContent).toContain("ana (approver)");
    expect(screen.getByTestId("cosign-missing").textContent).toContain("pinned as `lead`");
    expect((screen.getByRole("button", { name: /^Approve/ }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("exports the request to the path Rust wrote and reports an import's refusal", async () => {
    const exportRequest = vi.fn(() => Promise.resolve("/data/cosign/d1.request.json"));
    const importResponse = vi.fn(() =>
      Promise.reject({ code: "bad_request", message: "signature #2 does not verify against any live pinned key" }),
    );
    const onChanged = vi.fn();
    render(
      <CosignPanel id="d1" cosign={INFO} exportRequest={exportRequest} importResponse={importResponse} onChanged={onChanged} />,
    );
    await userEvent.click(screen.getByTestId("cosign-export"));
    expect(exportRequest).toHaveBeenCalledWith("d1");
    expect((await screen.findByTestId("cosign-exported")).textContent).toContain("/data/cosign/d1.request.json");
    await userEvent.upload(screen.getByTestId("cosign-import"), file('{"v":1}'));
    await waitFor(() => expect(importResponse).toHaveBeenCalledWith('{"v":1}'));
    expect((await screen.findByTestId("cosign-status")).textContent).toContain("does not verify");
    expect(onChanged).not.toHaveBeenCalled();
  });

  it("the co-signer sees the local score, a loud mismatch, and signs the digest shown", async () => {
    const reviewFn = vi.fn(() => Promise.resolve(review("RISK MISMATCH: the file claims 3 (low), this app scores the same action 82 (critical)")));
    const sign = vi.fn(() => Promise.resolve("/lead/cosign/d1.response.json"));
    render(<CosignSheet review={reviewFn} sign={sign} onClose={() => {}} />);
    expect((screen.getByTestId("cosign-sign") as HTMLButtonElement).disabled).toBe(true);
    await userEvent.upload(screen.getByTestId("cosign-open"), file("REQUEST"));
    expect((await screen.findByTestId("risk-mismatch")).textContent).toContain("RISK MISMATCH: the file claims 3");
    const digest = screen.getByTestId("cosign-digest").textContent ?? "";
    await userEvent.click(screen.getByTestId("cosign-sign"));
    expect(sign).toHaveBeenCalledWith("REQUEST", digest);
    expect((await screen.findByTestId("cosign-written")).textContent).toContain("/lead/cosign/d1.response.json");
  });

  it("a refused request shows the reason and offers nothing to sign", async () => {
    const reviewFn = vi.fn(() =>
      Promise.reject({ code: "bad_request", message: "the co-sign file is inconsistent (altered?): the action hashes to sha256:1" }),
    );
    render(<CosignSheet review={reviewFn} sign={never} onClose={() => {}} />);
    await userEvent.upload(screen.getByTestId("cosign-open"), file("x"));
    expect((await screen.findByTestId("cosign-error")).textContent).toContain("inconsistent");
    expect((screen.getByTestId("cosign-sign") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.queryByTestId("risk-mismatch")).toBeNull();
  });
});

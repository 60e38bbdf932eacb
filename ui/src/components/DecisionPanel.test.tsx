import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { decision } from "../test/fixtures";
import { DecisionPanel, signedBody } from "./DecisionPanel";

function envelopeOf(body: unknown) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return { ...decision().envelope, payload: btoa(String.fromCharCode(...bytes)) };
}

const action = { kind: "shell.exec", target: "host://b", summary: "ls — édité", payload: { argv: ["ls", "/tmp"] } };

describe("DecisionPanel", () => {
  it("shows the signed action when the approver edited the draft", () => {
    const d = decision({ envelope: envelopeOf({ action, action_digest: "sha256:edit" }) });
    expect(signedBody(d)?.action.summary, "UTF-8 survives the base64 decoding").toBe("ls — édité");
    render(<DecisionPanel decision={d} draftDigest="sha256:draft" />);
    expect(screen.getByTestId("signed-edit").textContent).toContain("Approved with edits");
    expect(screen.getByTestId("signed-edit").textContent).toContain('"/tmp"');
  });

  it("says nothing more when the signed action is the draft", () => {
    const d = decision({ envelope: envelopeOf({ action, action_digest: "sha256:draft" }) });
    render(<DecisionPanel decision={d} draftDigest="sha256:draft" />);
    expect(screen.queryByTestId("signed-edit")).toBeNull();
  });

  it("tolerates an envelope it cannot read", () => {
    render(<DecisionPanel decision={decision()} draftDigest="sha256:draft" />);
    expect(screen.queryByTestId("signed-edit")).toBeNull();
  });
});

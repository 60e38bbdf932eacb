import { describe, expect, it } from "vitest";
import { mainField } from "./EditPanel";

describe("the plain-text field of an edit", () => {
  it.each([
    ["a post's text", "message.post", { channel: "c", body: "hi" }, "body"],
    ["a file's content", "file.write", { path: "/a", content: "x" }, "content"],
    ["a script", "shell.exec", { script: "ls" }, "script"],
    ["a command's arguments", "shell.exec", { argv: ["ls", "-l"] }, "argv"],
    ["nothing for a tool call", "tool.call", { tool: "t", arguments: {} }, null],
    ["nothing for a grant", "acl.change", { resource: "r", grants: [] }, null],
    ["nothing for a non-object payload", "message.post", "oops", null],
  ] as const)("offers %s", (_name, kind, payload, key) => {
    expect(mainField(kind, payload)?.key ?? null).toBe(key);
  });
});

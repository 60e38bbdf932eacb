//! Declares the app's commands to Tauri's ACL so that only capabilities can grant them
//! (capabilities/main.json grants them to the main window only).

fn main() {
    let commands = &[
        "list_actions",
        "list_history",
        "get_action",
        "get_diff_lines",
        "approve",
        "approve_batch",
        "preview_edit",
        "approve_edited",
        "reject",
        "add_agent",
        "app_info",
        "shell_state",
        "policy_view",
        "preview_policy",
        "sign_policy",
        "approve_for_cosign",
        "export_cosign",
        "review_cosign",
        "sign_cosign",
        "import_cosign",
        "team_status",
        "team_join",
        "team_leave",
        "team_drafts",
        "team_draft",
        "team_claim",
        "team_release",
        "team_approve",
        "team_reject",
    ];
    if let Err(e) = tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    ) {
        panic!("tauri build step failed: {e:#}");
    }
}

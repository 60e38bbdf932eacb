//! Co-signing commands: thin adapters over the broker's co-signing use cases
//! (`countersign_broker::usecases::cosign`). Files go to and come from a fixed directory the
//! window shows (`<data dir>/cosign/`); the window reads an imported file's text itself
//! (a file input) and hands it over. Granted to the main window only, like every decision.

use std::path::{Path, PathBuf};

use countersign_core::api::{ApiError, CosignInfo, CosignOutcome, CosignReview, ErrorCode};
use countersign_core::cosign::MAX_FILE_BYTES;
use tauri::{State, WebviewWindow};

use crate::commands::{blocking, main_window_only, second_step};
use crate::confirm::{self, Prompt};
use crate::AppState;

/// Where the app writes co-sign requests and responses: `<data dir>/cosign`.
pub fn cosign_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("cosign")
}

/// File names come from draft ids (UUIDs); anything else is refused rather than joined.
fn file_for(dir: &Path, id: &str, suffix: &str) -> Result<PathBuf, ApiError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("draft id `{}` cannot name a file", id.escape_debug()),
        ));
    }
    Ok(dir.join(format!("{id}.{suffix}.json")))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<String, ApiError> {
    let internal = |e: String| ApiError::new(ErrorCode::Internal, e);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| internal(format!("{}: {e}", dir.display())))?;
    let json = serde_json::to_vec_pretty(value).map_err(|e| internal(e.to_string()))?;
    countersign_broker::keystore::write_atomically(path, &json, 0o600)
        .map_err(|e| internal(format!("{}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

fn check_size(text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is over {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Approves draft `id` as the first signer when the policy needs a lead this approver is not,
/// or two approvers (after the native confirmation those bands ask for), writes the co-sign request to
/// the co-sign directory, and returns who signed and what is missing.
///
/// # Errors
/// [`ErrorCode::Cancelled`] when the dialog was cancelled; otherwise as
/// `Broker::approve_for_cosign`.
#[tauri::command]
pub async fn approve_for_cosign(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
    action_digest: String,
) -> Result<CosignInfo, ApiError> {
    main_window_only(&window)?;
    second_step(&window, &state.broker, &id, &action_digest, None).await?;
    blocking(&state.broker, move |b| {
        b.approve_for_cosign(&id, &action_digest)
    })
    .await
}

/// Writes the co-sign request of draft `id` to `<data dir>/cosign/<id>.request.json` and
/// returns that path (the window shows it, to be sent to a lead).
///
/// # Errors
/// As `Broker::cosign_request`; [`ErrorCode::Internal`] when the file cannot be written.
#[tauri::command]
pub async fn export_cosign(
    window: WebviewWindow,
    state: State<'_, AppState>,
    id: String,
) -> Result<String, ApiError> {
    main_window_only(&window)?;
    let path = file_for(&cosign_dir(&state.data_dir), &id, "request")?;
    let request = blocking(&state.broker, move |b| b.cosign_request(&id)).await?;
    write_json(&path, &request)
}

/// The lead's view of a co-sign request (the file's text): checked for consistency, with the
/// diff and impact of its action and a risk score computed here (a mismatch is flagged).
///
/// # Errors
/// [`ErrorCode::BadRequest`] for a malformed or tampered file.
#[tauri::command]
pub async fn review_cosign(
    window: WebviewWindow,
    state: State<'_, AppState>,
    text: String,
) -> Result<CosignReview, ApiError> {
    main_window_only(&window)?;
    check_size(&text)?;
    blocking(&state.broker, move |b| {
        b.review_cosign_request(text.as_bytes())
    })
    .await
}

/// Adds this approver's signature to a co-sign request (the file's text) whose digest the
/// window showed, after a native confirmation dialog, and writes the response to
/// `<data dir>/cosign/<id>.response.json`; returns that path.
///
/// # Errors
/// [`ErrorCode::Cancelled`] when the dialog was cancelled; otherwise as
/// `Broker::sign_cosign_request`.
#[tauri::command]
pub async fn sign_cosign(
    window: WebviewWindow,
    state: State<'_, AppState>,
    text: String,
    action_digest: String,
) -> Result<String, ApiError> {
    main_window_only(&window)?;
    check_size(&text)?;
    let read = text.clone();
    let review = blocking(&state.broker, move |b| {
        b.review_cosign_request(read.as_bytes())
    })
    .await?;
    let r = &review.request;
    let prompt = Prompt {
        question: format!(
            "Co-sign this approval requested by {}? Risk {} as scored here.",
            review.requested_by,
            review.risk.level.as_str()
        ),
        details: format!(
            "Agent: {}\nKind: {}\nTarget: {}\nRisk score here: {}{}\n\nCancel signs nothing.",
            crate::notify::one_line(&r.agent, 200),
            r.action.kind,
            crate::notify::one_line(&r.action.target, 200),
            review.risk.score,
            review
                .risk_mismatch
                .as_deref()
                .map(|m| format!("\n\n{m}"))
                .unwrap_or_default()
        ),
    };
    confirm::confirm(window.clone(), prompt).await?;
    let path = file_for(&cosign_dir(&state.data_dir), &r.action_id, "response")?;
    let response = blocking(&state.broker, move |b| {
        b.sign_cosign_request(text.as_bytes(), &action_digest)
    })
    .await?;
    write_json(&path, &response)
}

/// Imports a co-sign response (the file's text) for a draft awaiting co-signature here; when
/// the quorum is met the multi-signature envelope is released to the agent.
///
/// # Errors
/// As `Broker::import_cosign_response`.
#[tauri::command]
pub async fn import_cosign(
    window: WebviewWindow,
    state: State<'_, AppState>,
    text: String,
) -> Result<CosignOutcome, ApiError> {
    main_window_only(&window)?;
    check_size(&text)?;
    blocking(&state.broker, move |b| {
        b.import_cosign_response(text.as_bytes())
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn only_draft_ids_name_files_in_the_cosign_directory() {
        let dir = Path::new("/data/cosign");
        assert_eq!(
            file_for(dir, "0b6f4a1e-7c52", "request").unwrap(),
            dir.join("0b6f4a1e-7c52.request.json")
        );
        for bad in ["", "../x", "a/b", "x.y", "..", "a\u{0}"] {
            assert!(
                file_for(dir, bad, "request").is_err(),
                "{bad:?} must not name a file"
            );
        }
    }
}

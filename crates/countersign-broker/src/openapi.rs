//! The agent API as an OpenAPI 3.1 document, generated from the wire types
//! ([`countersign_core::api`]) and the route attributes in [`crate::http`] by `utoipa`. Served
//! at `GET /v1/openapi.json` (no token) and committed as `docs/openapi.json`; a test fails when
//! the two drift (`COUNTERSIGN_UPDATE_OPENAPI=1 cargo test -p countersign-broker --test broker
//! openapi` rewrites the file).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The OpenAPI description of the agent API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Countersign agent API",
        description = "Agents submit drafts and poll for signed decisions. There is no route that approves or rejects: decisions come only from the app window. Every request must carry `Host: 127.0.0.1:PORT` (or `localhost:PORT`, `[::1]:PORT`) and no `Origin` or `Sec-Fetch-*` header; every error is `{code, message}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        crate::http::health,
        crate::http::openapi_json,
        crate::http::submit,
        crate::http::status,
        crate::http::decision
    ),
    modifiers(&BearerToken),
    tags((name = "actions", description = "Drafts and their signed decisions (bearer token)"),
         (name = "meta", description = "Health and this document (no token)"))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme: the agent token from `countersign agent add`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An agent token (`cs_…`) from `countersign agent add`"))
                    .build(),
            ),
        );
    }
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut doc = match serde_json::to_value(ApiDoc::openapi()) {
        Ok(doc) => doc,
        Err(e) => return format!("{{\"error\": \"{e}\"}}\n"),
    };
    camel_case_links(&mut doc);
    let mut json =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// utoipa 5 writes a Link Object's fields in snake case (`operation_id`, `operation_ref`,
/// `request_body`); OpenAPI 3.1 §4.8.20 names them `operationId`, `operationRef` and
/// `requestBody`, and clients (schemathesis's stateful phase) ignore the snake-case ones.
/// Renames them in every response's `links`.
fn camel_case_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let responses = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
            continue;
        };
        for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(snake) {
                    link.insert(camel.to_owned(), v);
                }
            }
        }
    }
}

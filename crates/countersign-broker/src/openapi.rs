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
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

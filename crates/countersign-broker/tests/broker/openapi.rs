//! The OpenAPI document: committed as `docs/openapi.json`, kept equal to the one generated from
//! the Rust types, and served without a token.

use countersign_broker::openapi::openapi_json;
use reqwest::StatusCode;

use crate::fixture::start;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

#[test]
fn committed_openapi_document_matches_the_generated_one() {
    let generated = openapi_json();
    if std::env::var_os("COUNTERSIGN_UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json drifted from the Rust types and routes; regenerate it with \
         `COUNTERSIGN_UPDATE_OPENAPI=1 cargo test -p countersign-broker --test broker openapi` \
         and commit the result"
    );
}

#[tokio::test]
async fn openapi_document_is_served_without_a_token() {
    let f = start().await;
    let r = f
        .raw()
        .get(format!("{}/v1/openapi.json", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the document needs no token");
    assert_eq!(
        r.text().await.unwrap(),
        openapi_json(),
        "the served document is the generated one"
    );
}

#[test]
fn every_error_response_in_the_document_is_api_error() {
    let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ApiError",
                        "{method} {path} {status}: every error is {{code, message}}"
                    );
                }
            }
        }
    }
}

#[test]
fn submit_links_its_id_to_status_and_decision_in_openapi_spelling() {
    let doc: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
    let links = &doc["paths"]["/v1/actions"]["post"]["responses"]["201"]["links"];
    let operation_ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    for name in ["status", "decision"] {
        let link = &links[name];
        assert_eq!(
            link["operationId"], name,
            "link `{name}` names its operation as `operationId` (OpenAPI 3.1 Link Object): {link}"
        );
        assert!(
            operation_ids.contains(&name),
            "link `{name}` targets an operation of the document"
        );
        assert_eq!(
            link["parameters"]["id"], "$response.body#/id",
            "link `{name}` passes the 201 answer's id as the path parameter"
        );
        assert!(
            link.get("operation_id").is_none(),
            "no snake-case field is left in link `{name}`: {link}"
        );
    }
}

//! What the OpenAPI document must say of every operation, checked on the
//! document itself (the end-to-end suite checks the answers against it).

use std::collections::BTreeMap;

use bulkhead_http::extract::MAX_LIMIT;
use bulkhead_http::openapi::document;
use bulkhead_http::{ApiError, documented_routes};
use serde_json::Value;

/// Every operation of the document, as `("METHOD /path", operation)`.
fn operations() -> Vec<(String, Value)> {
    let document = serde_json::to_value(document(documented_routes())).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations.push((
                format!("{} {path}", method.to_uppercase()),
                operation.clone(),
            ));
        }
    }
    operations
}

#[test]
fn operation_ids_are_unique() {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, operation) in operations() {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no operationId"))
            .to_owned();
        if let Some(first) = seen.insert(id.clone(), name.clone()) {
            panic!("operationId {id} is used by {first} and {name}");
        }
    }
}

#[test]
fn every_error_answer_is_documented_as_problem_json() {
    for (name, operation) in operations() {
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{name} {status}"
                );
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{name} {status}"
                );
            }
        }
    }
}

#[test]
fn every_operation_states_its_security_and_secured_ones_document_401() {
    for (name, operation) in operations() {
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} states no security"));
        let responses = &operation["responses"];
        if security.is_empty() {
            continue;
        }
        assert!(responses.get("401").is_some(), "{name} lacks 401");
    }
}

#[test]
fn every_limit_states_the_bounds_the_server_enforces() {
    let mut limits = 0;
    for (name, operation) in operations() {
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for parameter in parameters.iter().filter(|p| p["name"] == "limit") {
            limits += 1;
            assert_eq!(parameter["schema"]["minimum"], 1, "{name}");
            assert_eq!(parameter["schema"]["maximum"], MAX_LIMIT, "{name}");
            assert!(
                operation["responses"].get("400").is_some(),
                "{name} lacks 400"
            );
        }
    }
    assert!(limits >= 5, "only {limits} operations take a limit");
}

#[test]
fn a_limit_outside_the_documented_bounds_is_refused() {
    use bulkhead_http::extract::page_limit;
    assert_eq!(page_limit(None).unwrap(), 50);
    assert_eq!(page_limit(Some(1)).unwrap(), 1);
    assert_eq!(page_limit(Some(MAX_LIMIT)).unwrap(), MAX_LIMIT);
    for limit in [0, MAX_LIMIT + 1, 2_147_483_648] {
        let error: ApiError = page_limit(Some(limit)).unwrap_err();
        assert_eq!(error.status().as_u16(), 400, "{limit}");
        assert_eq!(error.code(), "invalid_limit", "{limit}");
    }
}

#[test]
fn a_collection_view_is_not_a_closed_request_schema() {
    let document = serde_json::to_value(document(documented_routes())).unwrap();
    let view = &document["components"]["schemas"]["CollectionView"];
    assert!(view.get("allOf").is_none(), "{view}");
    for field in [
        "name",
        "fields",
        "visibility",
        "indexes",
        "version",
        "created_at",
        "updated_at",
    ] {
        assert!(view["properties"].get(field).is_some(), "{field}: {view}");
    }
}

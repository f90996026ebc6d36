//! Random filters against a tenant's records: whatever the text, the answer
//! is never a 5xx and never contains a record of another tenant.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";

struct World {
    app: TestApp,
    token_a: String,
    ids_a: HashSet<String>,
    ids_b: Vec<String>,
}

async fn signup(app: &TestApp, email: &str) -> String {
    let response = app
        .json_from(
            "192.0.2.1",
            Method::POST,
            "/v1/auth/signup",
            &[],
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    format!(
        "Bearer {}",
        response.json()["access_token"].as_str().unwrap()
    )
}

async fn world() -> World {
    let app = TestApp::new();
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for (email, slug) in [("a@example.com", "tenant-a"), ("b@example.com", "tenant-b")] {
        let token = signup(&app, email).await;
        let auth = [("authorization", token.as_str())];
        let created = app
            .json_from(
                "192.0.2.1",
                Method::POST,
                "/v1/tenants",
                &auth,
                json!({ "slug": slug, "name": slug }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let schema = json!({
            "name": "notes", "visibility": "tenant",
            "fields": [
                { "name": "title", "type": "text" }, { "name": "n", "type": "integer" },
                { "name": "price", "type": "decimal" }, { "name": "done", "type": "bool" },
                { "name": "due", "type": "datetime" }, { "name": "tag", "type": "select", "values": ["x", "y"] },
            ],
        });
        let path = format!("/v1/tenants/{slug}/collections");
        assert_eq!(
            app.json_from("192.0.2.1", Method::POST, &path, &auth, schema)
                .await
                .status,
            StatusCode::CREATED
        );
        let mut tenant_ids = Vec::new();
        for i in 0..12 {
            let record = json!({
                "title": format!("{slug} note {i}"), "n": i, "price": format!("{i}.5"),
                "done": i % 2 == 0, "due": format!("2026-01-{:02}T00:00:00Z", i + 1), "tag": if i % 3 == 0 { "x" } else { "y" },
            });
            let response = app
                .json_from(
                    "192.0.2.1",
                    Method::POST,
                    &format!("/v1/tenants/{slug}/collections/notes/records"),
                    &auth,
                    record,
                )
                .await;
            assert_eq!(response.status, StatusCode::CREATED);
            tenant_ids.push(response.json()["id"].as_str().unwrap().to_owned());
        }
        tokens.push(token);
        ids.push(tenant_ids);
    }
    World {
        app,
        token_a: tokens.remove(0),
        ids_a: ids[0].iter().cloned().collect(),
        ids_b: ids.remove(1),
    }
}

/// Filter-shaped text: fields, operators and literals of every kind,
/// including tenant B's ids and values, glued with junk.
fn filter_text(ids_b: Vec<String>) -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "title",
        "n",
        "price",
        "done",
        "due",
        "tag",
        "id",
        "owner_id",
        "created_at",
        "updated_at",
        "nope",
        "data",
    ]);
    let op = prop::sample::select(vec![
        "=", "!=", "<", "<=", ">", ">=", "~", "in", "&&", "||", "!", "(", ")", ",",
    ]);
    let literal = prop_oneof![
        prop::sample::select(ids_b).prop_map(|id| format!("\"{id}\"")),
        Just("\"tenant-b note 1\"".to_owned()),
        Just("\"tenant-b\"".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[0-9]{1,20}(\\.[0-9]{1,20})?".prop_map(|s| s),
        Just("\"2026-01-05T00:00:00Z\"".to_owned()),
        "[ -~]{0,6}".prop_map(|s| format!("'{}'", s.replace('\'', ""))),
    ];
    let token = prop_oneof![
        field.prop_map(str::to_owned),
        op.prop_map(str::to_owned),
        literal,
        "[ -~]{0,3}"
    ];
    let soup = prop::collection::vec(token, 0..12).prop_map(|tokens| tokens.join(" "));
    // Well-typed comparisons, so that many filters are valid and match.
    let compare = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    let typed = prop_oneof![
        (compare.clone(), 0i64..14).prop_map(|(op, n)| format!("n {op} {n}")),
        (compare.clone(), 0i64..14).prop_map(|(op, n)| format!("price {op} {n}.5")),
        (compare.clone(), 1u8..14)
            .prop_map(|(op, d)| format!("due {op} \"2026-01-{d:02}T00:00:00Z\"")),
        prop::sample::select(vec![
            "done = true",
            "done != true",
            "tag = \"x\"",
            "tag in (\"x\", \"y\")",
            "title ~ \"note\"",
            "title ~ \"tenant-b\""
        ])
        .prop_map(str::to_owned),
        prop::sample::select(ids_b_for_typed()).prop_map(|id| format!("id != \"{id}\"")),
    ];
    let structured = prop::collection::vec(
        (
            typed,
            prop::sample::select(vec![" && ", " || "]),
            any::<bool>(),
        ),
        1..4,
    )
    .prop_map(|parts| {
        let mut text = String::new();
        for (i, (part, joiner, negate)) in parts.into_iter().enumerate() {
            if i > 0 {
                text.push_str(joiner);
            }
            if negate {
                text.push_str(&format!("!({part})"));
            } else {
                text.push_str(&part);
            }
        }
        text
    });
    prop_oneof![soup, structured]
}

/// Ids to negate in typed comparisons; any uuid works, these are fixed.
fn ids_b_for_typed() -> Vec<String> {
    vec![
        "01a20481-1454-701f-97a5-2da52a69e3c9".into(),
        "00000000-0000-0000-0000-000000000000".into(),
    ]
}

#[test]
fn random_filters_never_cross_tenants_nor_fail_the_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = runtime.block_on(world());
    let config = ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    };
    // Counts answers that returned records, so the test cannot pass by
    // only ever meeting invalid filters.
    let with_records = std::sync::atomic::AtomicUsize::new(0);
    proptest!(config, |(filter in filter_text(world.ids_b.clone()), sort in prop::sample::select(vec!["", "-created_at", "title", "-n,title", "price", "due,-id"]))| {
        let query = serde_urlencoded::to_string([("filter", filter.as_str()), ("sort", sort), ("limit", "100")]).unwrap();
        let uri = format!("/v1/tenants/tenant-a/collections/notes/records?{query}");
        let response = runtime.block_on(world.app.json_from(
            "192.0.2.1", Method::GET, &uri, &[("authorization", world.token_a.as_str())], Value::Null,
        ));
        prop_assert!(response.status.as_u16() < 500, "{filter:?} sort {sort:?}: {}", response.status);
        if response.status == StatusCode::OK {
            let body = response.json();
            let items = body["items"].as_array().unwrap();
            if !items.is_empty() {
                with_records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            for item in items {
                let id = item["id"].as_str().unwrap();
                prop_assert!(world.ids_a.contains(id), "{filter:?} returned {id}, not one of tenant A's");
            }
        }
    });
    let with_records = with_records.into_inner();
    eprintln!("{with_records} of 300 random filters returned records");
    assert!(
        with_records > 0,
        "no random filter ever matched: the generator is too weak"
    );
}

//! Random filters on both backends: whatever the text, tenant A's list
//! answers without a 5xx and never holds a record of tenant B, even when
//! the filter names B's ids and values. The generator is seeded (printed
//! on failure) and mixes token soup with well-typed comparisons so that
//! many filters are valid and match.

use bulkhead_client::Method;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::harness::TestServer;
use crate::records_common::{create, query_value, records_path, tenant_with_tasks};

const SEED: u64 = 0x5eed_f17e;
const N_FILTERS: usize = 300;

fn typed(rng: &mut StdRng, b_ids: &[String]) -> String {
    let compare = ["=", "!=", "<", "<=", ">", ">="];
    let op = compare.choose(rng).copied().unwrap_or("=");
    match rng.gen_range(0..8) {
        0 => format!("priority {op} {}", rng.gen_range(0..12)),
        1 => format!("estimate {op} {}.5", rng.gen_range(0..12)),
        2 => format!("score {op} {}", rng.gen_range(0..12)),
        3 => format!("due {op} \"2026-02-{:02}T00:00:00Z\"", rng.gen_range(1..13)),
        4 => [
            "done = true",
            "done != true",
            "status = \"open\"",
            "status in (\"open\", \"closed\")",
        ]
        .choose(rng)
        .map_or(String::new(), |s| (*s).to_owned()),
        5 => format!(
            "title ~ \"{}\"",
            ["task", "b-", "a-", "secret"]
                .choose(rng)
                .copied()
                .unwrap_or("task")
        ),
        6 => format!(
            "id != \"{}\"",
            b_ids.choose(rng).cloned().unwrap_or_default()
        ),
        _ => format!(
            "code = \"{}\"",
            ["b-1", "a-1", "b-7"].choose(rng).copied().unwrap_or("b-1")
        ),
    }
}

fn soup(rng: &mut StdRng, b_ids: &[String]) -> String {
    let tokens = [
        "title",
        "priority",
        "estimate",
        "done",
        "due",
        "status",
        "id",
        "owner_id",
        "created_at",
        "meta",
        "nope",
        "=",
        "!=",
        "<",
        ">=",
        "~",
        "in",
        "&&",
        "||",
        "!",
        "(",
        ")",
        ",",
        "null",
        "true",
        "\"b-1\"",
        "'x'",
        "1e999",
        "-0.0",
        "\"2026-02-01T00:00:00Z\"",
        "\\",
        "\"",
    ];
    let n = rng.gen_range(0..12);
    (0..n)
        .map(|_| {
            if rng.gen_bool(0.1) {
                format!("\"{}\"", b_ids.choose(rng).cloned().unwrap_or_default())
            } else {
                tokens.choose(rng).copied().unwrap_or("").to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn filter(rng: &mut StdRng, b_ids: &[String]) -> String {
    if rng.gen_bool(0.4) {
        return soup(rng, b_ids);
    }
    let n = rng.gen_range(1..4);
    let mut text = String::new();
    for i in 0..n {
        if i > 0 {
            text.push_str(if rng.gen_bool(0.5) { " && " } else { " || " });
        }
        let part = typed(rng, b_ids);
        if rng.gen_bool(0.3) {
            text.push_str(&format!("!({part})"));
        } else {
            text.push_str(&part);
        }
    }
    text
}

async fn random_filters_never_cross_tenants_nor_fail_the_server(server: TestServer) {
    let (owner_a, a) = tenant_with_tasks(&server, "fuzz-a", "tenant").await;
    let (owner_b, b) = tenant_with_tasks(&server, "fuzz-b", "tenant").await;
    let mut a_ids = Vec::new();
    let mut b_ids = Vec::new();
    for i in 0..10 {
        for (owner, tenant, ids, tag) in [
            (&owner_a, &a, &mut a_ids, "a"),
            (&owner_b, &b, &mut b_ids, "b"),
        ] {
            let data = json!({
                "title": format!("{tag}-task {i}"), "code": format!("{tag}-{i}"), "priority": i,
                "status": if i % 2 == 0 { "open" } else { "closed" }, "done": i % 3 == 0,
                "due": format!("2026-02-{:02}T00:00:00Z", i + 1), "estimate": format!("{i}.5"), "score": i,
            });
            let record = create(&owner.client, &tenant.slug, "tasks", data).await;
            ids.push(record.id.to_string());
        }
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let sorts = [
        "",
        "-created_at",
        "title",
        "-priority,title",
        "estimate",
        "due,-id",
    ];
    let mut matched = 0;
    for n in 0..N_FILTERS {
        let text = filter(&mut rng, &b_ids);
        let sort = sorts.choose(&mut rng).copied().unwrap_or("");
        let path = format!(
            "{}?filter={}&sort={}&limit=100",
            records_path(&a.slug, "tasks"),
            query_value(&text),
            query_value(sort)
        );
        let response = owner_a.send(Method::GET, &path, None).await;
        assert!(
            response.status < 500,
            "seed {SEED:#x}, filter {n} {text:?} sort {sort:?}: {} {}",
            response.status,
            response.text()
        );
        if response.status == 200 {
            let body: Value = response.json().unwrap();
            let items = body["items"].as_array().unwrap();
            matched += usize::from(!items.is_empty());
            for item in items {
                let id = item["id"].as_str().unwrap().to_owned();
                assert!(
                    a_ids.contains(&id),
                    "seed {SEED:#x}, filter {n} {text:?}: returned {id}, not one of A's"
                );
            }
        }
    }
    assert!(
        matched > N_FILTERS / 10,
        "only {matched} of {N_FILTERS} filters matched: the generator is too weak"
    );
}

scenario!(random_filters_never_cross_tenants_nor_fail_the_server);

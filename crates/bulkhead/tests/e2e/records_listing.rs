//! Listing records end to end, on both backends: filters, sorts, page sizes
//! and cursors compared with what the data should give (a model computed
//! here from the created records); malformed, over-long and over-deep
//! filters refused with 400 and the position of the problem, never a 5xx;
//! cursor paging while records are inserted and deleted between pages
//! without duplicates.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use bulkhead_client::types::{RecordQuery, RecordView};
use bulkhead_client::{Client, Method};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestServer, expect_not_5xx, expect_problem, request};
use crate::records_common::{
    all_records, create, ids, query_value, records_path, spec, tenant_with_tasks,
};

/// How many records the filter and sort checks run over.
const RECORDS: usize = 60;

/// The data of the `i`th record: every field sometimes absent, titles
/// with `%` and `_` (literal in `~`), values repeating so sorts tie.
fn task(i: usize) -> Value {
    let mut data = serde_json::Map::new();
    let title = if i.is_multiple_of(7) {
        format!("Task_{i:02} 100%")
    } else {
        format!("task {i:02}")
    };
    data.insert("title".into(), json!(title));
    if i % 6 != 5 {
        data.insert("priority".into(), json!(i % 5));
    }
    if i % 4 != 3 {
        data.insert("status".into(), json!(["open", "closed"][i % 2]));
    }
    data.insert("done".into(), json!(i.is_multiple_of(3)));
    if !i.is_multiple_of(5) {
        data.insert(
            "due".into(),
            json!(format!("2026-01-{:02}T12:00:00Z", i % 28 + 1)),
        );
    }
    data.insert("estimate".into(), json!(format!("{}.25", i % 9)));
    data.insert("score".into(), json!(i as f64 * 0.5));
    Value::Object(data)
}

/// A field's value as the filters and sorts see it.
fn get<'a>(record: &'a RecordView, field: &str) -> Option<&'a Value> {
    record.data.get(field).filter(|v| !v.is_null())
}

fn number(record: &RecordView, field: &str) -> Option<f64> {
    get(record, field).and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn text<'a>(record: &'a RecordView, field: &str) -> Option<&'a str> {
    get(record, field).and_then(Value::as_str)
}

/// One sort key's comparison: absent values first, then by the field's
/// type (numbers numerically, texts bytewise, ids as uuids).
fn compare_key(a: &RecordView, b: &RecordView, field: &str) -> Ordering {
    match field {
        "id" => a.id.cmp(&b.id),
        "created_at" => a.created_at.cmp(&b.created_at),
        "priority" | "score" | "estimate" | "n" => {
            let (x, y) = (number(a, field), number(b, field));
            match (x, y) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        }
        _ => text(a, field)
            .map(str::as_bytes)
            .cmp(&text(b, field).map(str::as_bytes)),
    }
}

/// `records` in the order `sort` (`-created_at` when empty) should give:
/// ascending keys put absent values first, descending keys last, and `id`
/// in the direction of the last key breaks ties.
fn model_sort(records: &mut [RecordView], sort: &str) {
    let mut keys: Vec<(String, bool)> = if sort.is_empty() {
        vec![("created_at".into(), true)]
    } else {
        sort.split(',')
            .map(|key| match key.strip_prefix('-') {
                Some(field) => (field.to_owned(), true),
                None => (key.to_owned(), false),
            })
            .collect()
    };
    if !keys.iter().any(|(field, _)| field == "id") {
        let descending = keys.last().is_some_and(|(_, d)| *d);
        keys.push(("id".into(), descending));
    }
    records.sort_by(|a, b| {
        keys.iter()
            .map(|(field, descending)| {
                let order = compare_key(a, b, field);
                if *descending { order.reverse() } else { order }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

type Predicate = Box<dyn Fn(&RecordView) -> bool>;

/// Filters and what they select, written out by hand. A comparison with an
/// absent field matches nothing, negated or not.
fn filters(records: &[RecordView]) -> Vec<(String, Predicate)> {
    let some_id = records[5].id;
    let owner = records[0].owner_id.unwrap();
    let middle = records[RECORDS / 2].created_at.clone();
    let int = |r: &RecordView| number(r, "priority");
    vec![
        (
            "priority >= 3".into(),
            Box::new(move |r| int(r).is_some_and(|p| p >= 3.0)),
        ),
        (
            "priority != 2".into(),
            Box::new(move |r| int(r).is_some_and(|p| p != 2.0)),
        ),
        (
            "status = \"open\" && priority < 2".into(),
            Box::new(move |r| text(r, "status") == Some("open") && int(r).is_some_and(|p| p < 2.0)),
        ),
        (
            "priority in (1, 4)".into(),
            Box::new(move |r| int(r).is_some_and(|p| p == 1.0 || p == 4.0)),
        ),
        (
            "done = true".into(),
            Box::new(|r| get(r, "done") == Some(&json!(true))),
        ),
        (
            "done != true".into(),
            Box::new(|r| get(r, "done") == Some(&json!(false))),
        ),
        ("due = null".into(), Box::new(|r| get(r, "due").is_none())),
        ("due != null".into(), Box::new(|r| get(r, "due").is_some())),
        (
            "!(status = \"open\")".into(),
            Box::new(|r| text(r, "status").is_some_and(|s| s != "open")),
        ),
        (
            "priority >= 3 || status = \"closed\"".into(),
            Box::new(move |r| {
                int(r).is_some_and(|p| p >= 3.0) || text(r, "status") == Some("closed")
            }),
        ),
        (
            "(priority = 0 || priority = 4) && !(done = true)".into(),
            Box::new(move |r| {
                int(r).is_some_and(|p| p == 0.0 || p == 4.0)
                    && get(r, "done") == Some(&json!(false))
            }),
        ),
        (
            "title ~ \"100%\"".into(),
            Box::new(|r| text(r, "title").is_some_and(|t| t.contains("100%"))),
        ),
        (
            "title ~ \"_\"".into(),
            Box::new(|r| text(r, "title").is_some_and(|t| t.contains('_'))),
        ),
        (
            "title ~ \"TASK\"".into(),
            Box::new(|r| text(r, "title").is_some_and(|t| t.contains("TASK"))),
        ),
        (
            "title = 'task 03'".into(),
            Box::new(|r| text(r, "title") == Some("task 03")),
        ),
        (
            "title > \"task 50\"".into(),
            Box::new(|r| text(r, "title").is_some_and(|t| t > "task 50")),
        ),
        (
            "estimate > 4.25".into(),
            Box::new(|r| number(r, "estimate").is_some_and(|e| e > 4.25)),
        ),
        (
            "estimate = 4.250".into(),
            Box::new(|r| text(r, "estimate") == Some("4.25")),
        ),
        (
            "score <= 10".into(),
            Box::new(|r| number(r, "score").is_some_and(|s| s <= 10.0)),
        ),
        (
            "due >= \"2026-01-15T00:00:00Z\"".into(),
            Box::new(|r| text(r, "due").is_some_and(|d| d >= "2026-01-15T00:00:00.000000Z")),
        ),
        (
            "due < \"2026-01-10T13:00:00+02:00\"".into(),
            Box::new(|r| text(r, "due").is_some_and(|d| d < "2026-01-10T11:00:00.000000Z")),
        ),
        (
            format!("created_at > \"{middle}\""),
            Box::new(move |r| r.created_at > middle),
        ),
        (
            format!("id = \"{some_id}\""),
            Box::new(move |r| r.id == some_id),
        ),
        (format!("owner_id = \"{owner}\""), Box::new(|_| true)),
        (format!("owner_id != \"{owner}\""), Box::new(|_| false)),
        (
            "status in (\"closed\")".into(),
            Box::new(|r| text(r, "status") == Some("closed")),
        ),
    ]
}

const SORTS: [&str; 8] = [
    "",
    "priority",
    "-priority,title",
    "status,-score",
    "title",
    "-estimate",
    "due",
    "-created_at",
];

/// Filters, sorts, page sizes and cursors give exactly what the data
/// should: every filter in every sort, paged 7 at a time, and the default
/// page size and its clamping.
async fn filters_and_sorts_give_what_the_data_should(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    let mut records = Vec::new();
    for i in 0..RECORDS {
        records.push(create(client, t, "tasks", task(i)).await);
    }
    // A tenant whose records must never show up.
    let (other_owner, other) = tenant_with_tasks(&server, "other", "tenant").await;
    for i in 0..5 {
        create(&other_owner.client, &other.slug, "tasks", task(i)).await;
    }

    let mut checked = 0;
    for (filter, predicate) in filters(&records) {
        let selected: Vec<RecordView> = records.iter().filter(|r| predicate(r)).cloned().collect();
        for sort in SORTS {
            let mut expected = selected.clone();
            model_sort(&mut expected, sort);
            let query = RecordQuery {
                filter: Some(filter.clone()),
                sort: (!sort.is_empty()).then(|| sort.to_owned()),
                limit: Some(7),
                cursor: None,
            };
            let got = all_records(client, t, "tasks", &query).await;
            assert_eq!(
                ids(&got),
                ids(&expected),
                "filter {filter:?} sort {sort:?}: got {} records, expected {}",
                got.len(),
                expected.len()
            );
            checked += 1;
        }
    }
    assert!(checked > 100);
    // Every sort over everything, in one page and in pages of one.
    for sort in SORTS {
        let mut expected = records.clone();
        model_sort(&mut expected, sort);
        for limit in [1, 100] {
            let query = RecordQuery {
                sort: (!sort.is_empty()).then(|| sort.to_owned()),
                limit: Some(limit),
                ..RecordQuery::default()
            };
            let got = all_records(client, t, "tasks", &query).await;
            assert_eq!(got, expected, "sort {sort:?} limit {limit}");
        }
    }

    // Page sizes: 50 by default, clamped to 1..=100; a full last page has a
    // cursor to an empty page.
    let first = client
        .list_records(t, "tasks", &RecordQuery::default())
        .await
        .unwrap();
    assert_eq!(first.items.len(), 50);
    let rest = client
        .list_records(
            t,
            "tasks",
            &RecordQuery {
                cursor: first.next_cursor.clone(),
                ..RecordQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), RECORDS - 50);
    assert_eq!(rest.next_cursor, None);
    for (limit, expected) in [(1, 1), (100, RECORDS)] {
        let page = client
            .list_records(
                t,
                "tasks",
                &RecordQuery {
                    limit: Some(limit),
                    ..RecordQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), expected, "limit {limit}");
    }
    // Outside 1 to 100 is refused, as the OpenAPI document says, rather
    // than clamped (2147483648 was taken before, while documented as int32).
    for limit in ["0", "101", "1000", "2147483648"] {
        let response = list_raw(client, t, &format!("limit={limit}")).await;
        expect_problem(&response, 400, "invalid_limit");
    }
    let exact = client
        .list_records(
            t,
            "tasks",
            &RecordQuery {
                limit: Some(RECORDS as u32),
                ..RecordQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(exact.items.len(), RECORDS);
    if let Some(cursor) = exact.next_cursor {
        let empty = client
            .list_records(
                t,
                "tasks",
                &RecordQuery {
                    cursor: Some(cursor),
                    ..RecordQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(empty.items.is_empty());
        assert_eq!(empty.next_cursor, None);
    }
}
scenario!(filters_and_sorts_give_what_the_data_should);

/// GET `…/records?<query>` as it is written.
async fn list_raw(client: &Client, t: &str, query: &str) -> bulkhead_client::RawResponse {
    request(
        client,
        Method::GET,
        &format!("{}?{query}", records_path(t, "tasks")),
        None,
    )
    .await
}

/// A malformed filter is 400 `invalid_filter` whose detail names the byte
/// position of the problem; bad sorts and cursors are 400 too; over-long
/// (more than 4096 bytes) and over-deep (more than 16 levels) filters are
/// 400, the limits themselves are fine, and nothing is ever a 5xx.
async fn bad_filters_are_400_with_the_position(server: TestServer) {
    let (owner, acme) = tenant_with_tasks(&server, "acme", "tenant").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    create(
        client,
        t,
        "tasks",
        json!({"title": "one", "priority": 1, "done": true}),
    )
    .await;

    // (filter, byte position of the problem)
    let bad: [(&str, usize); 16] = [
        ("status = \"open\" && nosuch = 1", 19),
        ("priority = \"high\"", 11),
        ("title ~ 5", 8),
        ("done > true", 5),
        ("priority ~ \"1\"", 9),
        ("version = 1", 0),
        ("meta = 1", 0),
        ("status = \"maybe\"", 9),
        ("title = null", 8),
        ("priority = = 1", 11),
        ("(priority = 1", 13),
        ("priority = 1)", 12),
        ("priority = 1 &&", 15),
        ("title = \"unterminated", 8),
        ("priority in ()", 13),
        ("id = \"not-a-uuid\"", 5),
    ];
    for (filter, position) in bad {
        let response = list_raw(client, t, &format!("filter={}", query_value(filter))).await;
        let problem = expect_problem(&response, 400, "invalid_filter");
        assert!(
            problem.detail.contains(&format!("position {position}")),
            "{filter:?}: expected position {position} in {:?}",
            problem.detail
        );
    }
    for sort in [
        "nosuch",
        "meta",
        "version",
        "priority,priority",
        "title,done,due,score",
        "-",
        "",
    ] {
        let response = list_raw(client, t, &format!("sort={}", query_value(sort))).await;
        if sort.is_empty() {
            assert_eq!(response.status, 200, "an empty sort is no sort");
            continue;
        }
        let problem = expect_problem(&response, 400, "invalid_sort");
        assert!(
            problem.detail.contains("position"),
            "{sort:?}: {}",
            problem.detail
        );
    }
    for cursor in ["garbage!", "WyJ4Il0", "bnVsbA", &"A".repeat(5000)] {
        let response = list_raw(client, t, &format!("cursor={cursor}")).await;
        expect_problem(&response, 400, "invalid_cursor");
    }
    for limit in ["-1", "many", "99999999999"] {
        let response = list_raw(client, t, &format!("limit={limit}")).await;
        expect_not_5xx(&response, &format!("limit={limit}"));
        assert_eq!(response.status, 400, "limit={limit}: {}", response.text());
    }

    // Length: 4096 bytes is fine, 4097 is not, and far longer is a 4xx.
    let at_limit = format!("{:<4096}", "priority = 1");
    assert_eq!(at_limit.len(), 4096);
    let response = list_raw(client, t, &format!("filter={}", query_value(&at_limit))).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let over = format!("{at_limit} ");
    let response = list_raw(client, t, &format!("filter={}", query_value(&over))).await;
    let problem = expect_problem(&response, 400, "invalid_filter");
    assert!(
        problem.detail.contains("position 4096"),
        "{}",
        problem.detail
    );
    let many_ors = vec!["priority = 1"; 400].join(" || ");
    assert!(many_ors.len() > 4096);
    let response = list_raw(client, t, &format!("filter={}", query_value(&many_ors))).await;
    expect_problem(&response, 400, "invalid_filter");
    for size in [5_000, 20_000] {
        let huge = "(".repeat(size);
        let response = list_raw(client, t, &format!("filter={}", query_value(&huge))).await;
        expect_not_5xx(&response, &format!("a {size}-byte filter"));
        assert!(
            response.status == 400 || response.status == 414 || response.status == 431,
            "a {size}-byte filter: {} {}",
            response.status,
            response.text()
        );
    }

    // Depth: 16 levels of `!` or parentheses are fine, 17 are not.
    let nested = |depth: usize, not: bool| {
        if not {
            format!("{}done = true", "!".repeat(depth))
        } else {
            format!("{}done = true{}", "(".repeat(depth), ")".repeat(depth))
        }
    };
    for not in [true, false] {
        let response = list_raw(
            client,
            t,
            &format!("filter={}", query_value(&nested(16, not))),
        )
        .await;
        assert_eq!(response.status, 200, "16 deep: {}", response.text());
        for depth in [17, 100, 2000] {
            let response = list_raw(
                client,
                t,
                &format!("filter={}", query_value(&nested(depth, not))),
            )
            .await;
            let problem = expect_problem(&response, 400, "invalid_filter");
            assert!(problem.detail.contains("position"), "{}", problem.detail);
        }
    }
    let mixed = format!("{}done = true{}", "!(".repeat(9), ")".repeat(9));
    let response = list_raw(client, t, &format!("filter={}", query_value(&mixed))).await;
    expect_problem(&response, 400, "invalid_filter");
    let in_list = format!(
        "priority in ({})",
        (0..101)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let response = list_raw(client, t, &format!("filter={}", query_value(&in_list))).await;
    expect_problem(&response, 400, "invalid_filter");

    // Odd values: never a 5xx (NUL characters: records_crud).
    let mut server_errors = Vec::new();
    for filter in [
        "title ~ \"\u{1F600}\"",
        "title = \"\\u{110000}\"",
        "title = \"\\u{D800}\"",
        "priority = 99999999999999999999",
        "score = 1e999",
        "score = 1e308",
        "estimate = 1e400",
        "estimate = 1e-400",
        "estimate > 123456789012345678901234567890123456789",
        "due = \"9999-12-31T23:59:59Z\"",
        "due = \"0000-01-01T00:00:00Z\"",
        "created_at > \"9999-12-31T23:59:59-23:59\"",
        "\u{feff}done = true",
        "title ~ \"%\" || title ~ \"\\\\\"",
    ] {
        let response = list_raw(client, t, &format!("filter={}", query_value(filter))).await;
        if response.status >= 500 {
            server_errors.push(format!(
                "{filter:?}: {} {}",
                response.status,
                response.text()
            ));
        }
    }
    assert!(
        server_errors.is_empty(),
        "server errors: {server_errors:#?}"
    );
}
scenario!(bad_filters_are_400_with_the_position);

/// Creates the `next_n`th task: `n` spread out, with ties, so that inserts
/// land before and after cursors.
async fn create_next(client: &Client, t: &str, next_n: &mut i64) -> RecordView {
    let n = (*next_n * 7) % 23;
    *next_n += 1;
    create(
        client,
        t,
        "tasks",
        json!({"n": n, "label": format!("r{next_n}")}),
    )
    .await
}

/// Cursor paging while records are inserted and deleted between pages:
/// no record is returned twice, the order holds across pages, every
/// record present throughout is returned, and none deleted before its
/// page is.
async fn cursors_survive_inserts_and_deletes_between_pages(server: TestServer) {
    let owner = server.signup("owner@acme.example").await;
    let acme = server.create_tenant(&owner, "acme").await;
    let t = acme.slug.as_str();
    let client = &owner.client;
    client
        .create_collection(
            t,
            &spec(json!({
                "name": "tasks",
                "visibility": "tenant",
                "fields": [{"name": "n", "type": "integer"}, {"name": "label", "type": "text"}],
                "indexes": [["n"]]
            })),
        )
        .await
        .unwrap();
    let mut next_n = 0_i64;
    let mut live: Vec<RecordView> = Vec::new();
    for _ in 0..40 {
        live.push(create_next(client, t, &mut next_n).await);
    }

    for sort in ["", "n", "-n,label"] {
        let mut seen: Vec<RecordView> = Vec::new();
        let mut deleted_unseen: BTreeSet<Uuid> = BTreeSet::new();
        let present_at_start: BTreeSet<Uuid> = live.iter().map(|r| r.id).collect();
        let mut query = RecordQuery {
            sort: (!sort.is_empty()).then(|| sort.to_owned()),
            limit: Some(4),
            ..RecordQuery::default()
        };
        let mut pages = 0;
        loop {
            let page = client.list_records(t, "tasks", &query).await.unwrap();
            pages += 1;
            for record in &page.items {
                assert!(
                    !deleted_unseen.contains(&record.id),
                    "sort {sort:?}: a record deleted before its page was returned"
                );
            }
            seen.extend(page.items);
            let Some(cursor) = page.next_cursor else {
                break;
            };
            query.cursor = Some(cursor);
            // Between pages: two inserts, one deletion of a record not yet
            // seen, one of a record already seen.
            for _ in 0..2 {
                live.push(create_next(client, t, &mut next_n).await);
            }
            let seen_ids: BTreeSet<Uuid> = seen.iter().map(|r| r.id).collect();
            if let Some(position) = live
                .iter()
                .rposition(|r| !seen_ids.contains(&r.id) && present_at_start.contains(&r.id))
            {
                let victim = live.remove(position);
                client
                    .delete_record(t, "tasks", victim.id, None)
                    .await
                    .unwrap();
                deleted_unseen.insert(victim.id);
            }
            if let Some(position) = live.iter().position(|r| seen_ids.contains(&r.id)) {
                let victim = live.remove(position);
                client
                    .delete_record(t, "tasks", victim.id, None)
                    .await
                    .unwrap();
            }
            assert!(pages < 200, "the cursor never ends");
        }
        let seen_ids: Vec<Uuid> = ids(&seen);
        let unique: BTreeSet<Uuid> = seen_ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            seen_ids.len(),
            "sort {sort:?}: a record came twice"
        );
        let mut ordered = seen.clone();
        model_sort(&mut ordered, sort);
        assert_eq!(ids(&ordered), seen_ids, "sort {sort:?}: pages out of order");
        // Present from start to end: returned.
        let live_ids: BTreeSet<Uuid> = live.iter().map(|r| r.id).collect();
        for id in present_at_start.intersection(&live_ids) {
            assert!(
                unique.contains(id),
                "sort {sort:?}: record {id} was skipped"
            );
        }
        assert!(
            !deleted_unseen.is_empty(),
            "sort {sort:?}: nothing was deleted"
        );
        eprintln!(
            "cursor paging, sort {sort:?}: {pages} pages, {} records returned, {} deleted before their page",
            seen.len(),
            deleted_unseen.len()
        );
    }
}
scenario!(cursors_survive_inserts_and_deletes_between_pages);

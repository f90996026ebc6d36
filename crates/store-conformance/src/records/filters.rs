//! Record filters, checked against the reference evaluation.

use bulkhead_domain::RecordId;
use serde_json::Value;
use time::OffsetDateTime;

use super::listing::{ITEMS, Listing, days, rfc3339};
use crate::TestStore;
use crate::fixtures::at;
use crate::reference::{self};
use bulkhead_store::Access;

/// Whether a filter is expected to select some, none or all records: a
/// guard against a test table that checks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selects {
    Some,
    None,
    All,
}

pub async fn record_filters_agree_with_the_reference_evaluation(ts: &TestStore) {
    let store = &*ts.store;
    let fx = Listing::new(store).await;
    let record = |i: usize| fx.records[i].id.to_string();
    let parent = fx
        .records
        .iter()
        .find_map(|r| match r.data.field("parent") {
            Some(Value::String(parent)) => Some(parent),
            _ => None,
        })
        .unwrap();
    let other_parent = fx
        .records
        .iter()
        .rev()
        .find_map(|r| match r.data.field("parent") {
            Some(Value::String(parent)) => Some(parent),
            _ => None,
        })
        .unwrap();
    let (u0, u1, u2) = (fx.owners[0], fx.owners[1], fx.owners[2]);
    let dt = |at: OffsetDateTime, offset: i8| rfc3339(at, offset);
    use Selects::{All, None as Nothing, Some as Part};
    let table: Vec<(String, Selects)> = vec![
        // text: every operator, bytewise, `~` case-sensitive and literal.
        (r#"title = "apple""#.into(), Part),
        (r#"title != "apple""#.into(), Part),
        (r#"title < "b""#.into(), Part),
        (r#"title <= "apple""#.into(), Part),
        (r#"title > "Banana""#.into(), Part),
        (r#"title >= "cherry""#.into(), Part),
        (r#"title > "z""#.into(), Part),
        (r#"title = "ápple""#.into(), Part),
        (r#"title ~ "an""#.into(), Part),
        (r#"title ~ "App""#.into(), Part),
        (r#"title ~ "pp""#.into(), Part),
        (r#"title ~ "%""#.into(), Part),
        (r#"title ~ "_""#.into(), Part),
        (r#"title ~ "'""#.into(), Part),
        (r#"title = "O'Brien""#.into(), Part),
        (r#"title ~ """#.into(), All),
        (r#"title in ("apple", "cherry", "nope")"#.into(), Part),
        (r#"title != "no such title""#.into(), All),
        // Values are bound, never spliced into the query text.
        (r#"title = "x' OR '1'='1""#.into(), Nothing),
        (r#"title ~ "x' OR '1'='1""#.into(), Nothing),
        (r#"title = 'apple" OR "1"="1'"#.into(), Nothing),
        (r#"title ~ "' OR 1=1 --""#.into(), Nothing),
        (r#"note = "\"); DROP TABLE records; --""#.into(), Nothing),
        (
            r#"title in ("x') OR ('1'='1", "apple' --")"#.into(),
            Nothing,
        ),
        // An optional text field.
        ("note = null".into(), Part),
        ("note != null".into(), Part),
        (r#"note = """#.into(), Part),
        (r#"note ~ "x""#.into(), Part),
        (r#"note != "first""#.into(), Part),
        (r#"!(note = "first")"#.into(), Part),
        (r#"note < "a""#.into(), Part),
        // integer, exact beyond 2^53 and at the ends of i64.
        ("qty = 0".into(), Part),
        ("qty != 3".into(), Part),
        ("qty < 0".into(), Part),
        ("qty <= 2".into(), Part),
        ("qty > 9007199254740992".into(), Part),
        ("qty >= -5".into(), Part),
        ("qty = 9007199254740993".into(), Part),
        ("qty = 9007199254740992".into(), Part),
        ("qty in (1, 2, 9007199254740993)".into(), Part),
        ("qty = 2.0".into(), Part),
        ("qty < 1e1".into(), Part),
        ("qty = 9223372036854775807".into(), Part),
        ("qty < -9007199254740993".into(), Part),
        ("qty = null".into(), Part),
        // number
        ("score = 2.5".into(), Part),
        ("score > 1".into(), Part),
        ("score <= 0".into(), Part),
        ("score != 10".into(), Part),
        ("score in (1.5, 3)".into(), Part),
        ("score >= -2.25".into(), Part),
        ("score < 1e2".into(), Part),
        ("score = 100".into(), Part),
        ("score > 0.1".into(), Part),
        // decimal: by value, whether stored as text or as a JSON number.
        ("price = 7".into(), Part),
        ("price = 7.000".into(), Part),
        ("price = 10.50".into(), Part),
        ("price > 9.99".into(), Part),
        ("price < 10".into(), Part),
        ("price >= 100".into(), Part),
        ("price <= -3".into(), Part),
        ("price != 7".into(), Part),
        ("price in (7, 2.5, -12)".into(), Part),
        ("price > 1e1".into(), Part),
        ("price < 0.01".into(), Part),
        ("price > -1".into(), Part),
        ("price = null".into(), Part),
        // bool
        ("active = true".into(), Part),
        ("active = false".into(), Part),
        ("active != true".into(), Part),
        ("!(active = true)".into(), Part),
        ("active = null".into(), Part),
        // datetime: instants, whatever the offset written.
        (format!(r#"due < "{}""#, dt(days(0), 0)), Part),
        (format!(r#"due >= "{}""#, dt(days(0), 2)), Part),
        (format!(r#"due = "{}""#, dt(days(0), -5)), Part),
        (format!(r#"due > "{}""#, dt(days(0), 0)), Part),
        (format!(r#"due != "{}""#, dt(days(0), 3)), Part),
        (
            format!(
                r#"due in ("{}", "1999-12-31T23:59:59.999999Z")"#,
                dt(days(1), 1)
            ),
            Part,
        ),
        (r#"due <= "2000-01-01T00:59:59.999999+01:00""#.into(), Part),
        ("due = null".into(), Part),
        // select
        (r#"status = "open""#.into(), Part),
        (r#"status != "paid""#.into(), Part),
        (r#"status < "paid""#.into(), Part),
        (r#"status >= "paid""#.into(), Part),
        (r#"status in ("open", "void")"#.into(), Part),
        ("status = null".into(), Part),
        ("status != null".into(), Part),
        // relation, in whatever case the uuid is written.
        (format!(r#"parent = "{}""#, parent.to_uppercase()), Part),
        (format!(r#"parent != "{parent}""#), Part),
        (format!(r#"parent < "{parent}""#), Part),
        (format!(r#"parent in ("{parent}", "{other_parent}")"#), Part),
        ("parent = null".into(), Part),
        // system fields
        (format!(r#"id = "{}""#, record(5)), Part),
        (format!(r#"id = "{}""#, record(5).to_uppercase()), Part),
        (format!(r#"id > "{}""#, record(10)), Part),
        (format!(r#"id <= "{}""#, record(7)), Part),
        (format!(r#"id != "{}""#, record(3)), Part),
        (
            format!(
                r#"id in ("{}", "{}", "{}")"#,
                record(1),
                record(2),
                RecordId::from_uuid(uuid::Uuid::nil())
            ),
            Part,
        ),
        (format!(r#"owner_id = "{u0}""#), Part),
        (format!(r#"owner_id != "{u0}""#), Part),
        (format!(r#"owner_id in ("{u1}", "{u2}")"#), Part),
        (format!(r#"owner_id > "{u1}""#), Part),
        (format!(r#"created_at >= "{}""#, dt(at(3), 0)), Part),
        (format!(r#"created_at < "{}""#, dt(at(2), 0)), Part),
        (format!(r#"created_at = "{}""#, dt(at(2), 1)), Part),
        (
            format!(r#"created_at in ("{}", "{}")"#, dt(at(0), 0), dt(at(9), 0)),
            Part,
        ),
        (format!(r#"updated_at > "{}""#, dt(at(40), 0)), Part),
        (format!(r#"updated_at = "{}""#, dt(at(61), 0)), Part),
        (format!(r#"updated_at != "{}""#, dt(at(0), 0)), Part),
        // &&, ||, ! and unknown (absent) operands
        (r#"title ~ "a" && qty > 0"#.into(), Part),
        (r#"status = "open" || price > 50"#.into(), Part),
        ("!(qty = 1)".into(), Part),
        (r#"!(status = "open" || active = true)"#.into(), Part),
        ("!(note = null)".into(), Part),
        ("(qty > 0 || qty < 0) && !(active = false)".into(), Part),
        (
            r#"status = "open" && (note = null || score > 1)"#.into(),
            Part,
        ),
        ("!!(qty > 0)".into(), Part),
        ("qty > 0 || !(qty > 0)".into(), Part),
        ("!(qty > 0 && active = true)".into(), Part),
        ("!(qty > 0 || active = true)".into(), Part),
        (
            r#"price > 5 && price < 50 || status = null && !(due = null)"#.into(),
            Part,
        ),
        (
            format!(r#"owner_id = "{u0}" && (title ~ "a" || score < 0)"#),
            Part,
        ),
        (
            "qty = null && price = null || score = null && active = null".into(),
            Part,
        ),
    ];

    let total = fx.records.len();
    let mut tx = store.tenant(fx.tenant, Access::Read).await.unwrap();
    for (text, selects) in &table {
        let query = fx.query("", Some(text), None);
        let expected = reference::list(&fx.records, &query, None);
        let n = expected.len();
        let shape = match n {
            0 => Selects::None,
            n if n == total => Selects::All,
            _ => Selects::Some,
        };
        assert_eq!(
            shape, *selects,
            "{text}: the reference selects {n} of {total}"
        );
        let found = tx.list_records(ITEMS, &query).await.unwrap();
        assert_eq!(
            fx.names(&found),
            fx.names(&expected),
            "filter {text} (left: the store, right: the reference)"
        );
        assert_eq!(found, expected, "filter {text}: records differ");
    }
}

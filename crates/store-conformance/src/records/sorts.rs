//! Record sorts and keyset pages, checked against the reference order,
//! also while records change between pages.

use std::collections::BTreeSet;

use bulkhead_domain::{RecordId, UserId};
use rand::Rng;

use super::listing::{ITEMS, Listing, N_ITEMS, list};
use super::{expect_done, ids};
use crate::TestStore;
use crate::fixtures::{self};
use crate::reference::{self, Key};
use bulkhead_store::{Access, Cursor, RecordChange, RecordQuery, Store};

/// Orders the sort cases check, each with an optional filter and owner.
fn sort_table(fx: &Listing) -> Vec<(&'static str, Option<&'static str>, Option<UserId>)> {
    let every_field = [
        "",
        "title",
        "-title",
        "note",
        "-note",
        "qty",
        "-qty",
        "score",
        "-score",
        "price",
        "-price",
        "active",
        "-active",
        "due",
        "-due",
        "status",
        "-status",
        "parent",
        "-parent",
        "id",
        "-id",
        "owner_id",
        "-owner_id",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    ];
    let mut table: Vec<_> = every_field.into_iter().map(|s| (s, None, None)).collect();
    table.extend([
        ("status,-qty", None, None),
        ("active,-price,title", None, None),
        ("-note,created_at", None, None),
        ("-status,due,-id", None, None),
        ("id,title", None, None),
        ("-updated_at,title", Some("qty > 0 || note = null"), None),
        ("qty,title", Some(r#"status != "void""#), None),
        ("price", Some("price > 1"), None),
        ("-due", Some("active = true || active = false"), None),
        ("", None, Some(fx.owners[1])),
        (
            "-price,title",
            Some("price != null || note != null"),
            Some(fx.owners[0]),
        ),
        ("note,-status", None, Some(fx.owners[2])),
    ]);
    table
}

pub async fn record_sorts_and_keyset_pages_agree_with_the_reference_order(ts: &TestStore) {
    let store = &*ts.store;
    let fx = Listing::new(store).await;
    // Newest first by default, `id` descending among equal times.
    let default = fx.query("", None, None);
    let mut expected = fx.records.clone();
    expected.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    assert_eq!(
        fx.names(&list(store, fx.tenant, &default).await),
        fx.names(&expected)
    );
    // A limit cuts the list.
    let first_five = RecordQuery {
        limit: 5,
        ..default.clone()
    };
    assert_eq!(list(store, fx.tenant, &first_five).await, expected[..5]);

    for (sort, filter, owner) in sort_table(&fx) {
        let context = format!("sort {sort:?}, filter {filter:?}, owner {owner:?}");
        let query = fx.query(sort, filter, owner);
        let expected = reference::list(&fx.records, &query, None);
        assert!(!expected.is_empty(), "{context}: the table checks nothing");
        if let Some(owner) = owner {
            assert!(expected.iter().all(|r| r.owner_id == Some(owner)));
        }
        let found = list(store, fx.tenant, &query).await;
        assert_eq!(fx.names(&found), fx.names(&expected), "{context}");
        assert_eq!(found, expected, "{context}: records differ");

        // Keyset pages of 7, through encoded cursors, until an empty page.
        let order = query.order();
        let mut paged = Vec::new();
        let mut after = None;
        for page_number in 0.. {
            assert!(page_number <= N_ITEMS, "{context}: paging does not end");
            let page_query = RecordQuery {
                after: after.clone(),
                limit: 7,
                ..query.clone()
            };
            let page = list(store, fx.tenant, &page_query).await;
            assert!(page.len() <= 7, "{context}: page of {}", page.len());
            let Some(last) = page.last() else { break };
            let cursor = Cursor::after_record(last, &order);
            let decoded = Cursor::decode(&cursor.encode(), &order);
            assert_eq!(decoded.as_ref(), Some(&cursor), "{context}");
            after = decoded;
            paged.extend(page);
        }
        assert_eq!(
            fx.names(&paged),
            fx.names(&expected),
            "{context}: pages (left) against the whole list (right)"
        );
    }
}

/// One write between two pages: a new record, a deleted one (sometimes the
/// very record the cursor was made from) and a changed one.
async fn churn(
    store: &dyn Store,
    fx: &mut Listing,
    step: usize,
    cursor_record: RecordId,
    touched: &mut BTreeSet<RecordId>,
) {
    let mut tx = store.tenant(fx.tenant, Access::Write).await.unwrap();
    let data = fx.random_data();
    let owner = fx.random_owner();
    let id = fixtures::seeded_id(&mut fx.rng);
    let created_at = fx.tick();
    let created = tx
        .insert_record(fixtures::record(ITEMS, id, owner, data, &[], created_at))
        .await
        .unwrap();
    fx.records.push(created);

    let doomed = if step % 3 == 1 && fx.records.iter().any(|r| r.id == cursor_record) {
        cursor_record
    } else {
        fx.records[fx.rng.gen_range(0..fx.records.len())].id
    };
    expect_done(tx.delete_record(ITEMS, doomed, None).await.unwrap());
    fx.records.retain(|r| r.id != doomed);
    touched.insert(doomed);

    let i = fx.rng.gen_range(0..fx.records.len());
    let data = fx.random_data();
    let changed_at = fx.tick();
    let target = &fx.records[i];
    let changed = expect_done(
        tx.update_record(RecordChange {
            collection: ITEMS.into(),
            id: target.id,
            expected_version: Some(target.version),
            data,
            unique_values: Vec::new(),
            at: changed_at,
        })
        .await
        .unwrap(),
    );
    touched.insert(changed.id);
    fx.records[i] = changed;
    tx.commit().await.unwrap();
}

pub async fn keyset_pages_stay_exact_while_records_change(ts: &TestStore) {
    let store = &*ts.store;
    let mut fx = Listing::new(store).await;
    let owner = fx.owners[0];
    let cases: [(&str, Option<&str>, Option<UserId>); 5] = [
        ("qty", None, None),
        (
            "-price,title",
            Some(r#"status != "void" || price = null"#),
            None,
        ),
        ("", None, None),
        ("note,-due", None, None),
        ("-updated_at", None, Some(owner)),
    ];
    for (sort, filter, owner) in cases {
        let context = format!("sort {sort:?}, filter {filter:?}, owner {owner:?}");
        let query = fx.query(sort, filter, owner);
        let order = query.order();
        let at_start = ids(&reference::list(&fx.records, &query, None));
        let mut touched = BTreeSet::new();
        let mut seen: Vec<RecordId> = Vec::new();
        let mut after: Option<Cursor> = None;
        let mut after_key: Option<Key> = None;
        for step in 0.. {
            assert!(step <= 2 * N_ITEMS, "{context}: paging does not end");
            let page_query = RecordQuery {
                after: after.clone(),
                limit: 7,
                ..query.clone()
            };
            let page = list(store, fx.tenant, &page_query).await;
            // Exactly the first 7 records after the cursor's position in
            // the data as it is now.
            let expected = reference::list(&fx.records, &page_query, after_key.as_ref());
            assert_eq!(
                fx.names(&page),
                fx.names(&expected),
                "{context}, page {step}"
            );
            assert_eq!(page, expected, "{context}, page {step}: records differ");
            let Some(last) = page.last() else { break };
            after_key = Some(reference::key(last, &order));
            let cursor = Cursor::after_record(last, &order);
            after = Some(Cursor::decode(&cursor.encode(), &order).unwrap());
            seen.extend(ids(&page));
            let last_id = last.id;
            churn(store, &mut fx, step, last_id, &mut touched).await;
        }
        // Records there throughout and never changed show up exactly once;
        // only changed ones may move past the cursor (either way).
        for id in &at_start {
            if !touched.contains(id) {
                let n = seen.iter().filter(|seen| *seen == id).count();
                assert_eq!(n, 1, "{context}: an unchanged record seen {n} times");
            }
        }
        let mut distinct = BTreeSet::new();
        for id in &seen {
            assert!(
                distinct.insert(*id) || touched.contains(id),
                "{context}: an unchanged record seen twice"
            );
        }
    }
}

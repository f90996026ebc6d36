//! Conformance cases for metering: flushes add up per hour and per day,
//! whichever process sends them and in whatever grouping; a day counts
//! each active user once however many flushes name them; a day's stored
//! bytes are the tenant's at its last flush; and flushes racing on one
//! day lose nothing.

use bulkhead_domain::UserId;
use bulkhead_store::metering::{
    MeteredHour, MeteredUse, MeteredUsers, UsageDay, UsageHour, day_of, hour_of,
};
use bulkhead_store::{Access, Store, Tenant};
use serde_json::json;
use time::{Date, Duration};

use crate::TestStore;
use crate::fixtures::{self, at, t0};

async fn tenant(store: &dyn Store, slug: &str) -> Tenant {
    let owner = fixtures::user(store, &format!("owner@{slug}.example")).await;
    fixtures::tenant(store, slug, &owner).await
}

async fn users(store: &dyn Store, n: usize, prefix: &str) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(
            fixtures::user(store, &format!("{prefix}-{i}@example.com"))
                .await
                .id,
        );
    }
    ids
}

async fn flush(store: &dyn Store, tenant: &Tenant, metered: &MeteredUse) {
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    tx.add_metered_use(metered).await.unwrap();
    tx.commit().await.unwrap();
}

async fn days(store: &dyn Store, tenant: &Tenant, from: Date, to: Date) -> Vec<UsageDay> {
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    tx.usage_days(from, to).await.unwrap()
}

async fn hours(store: &dyn Store, tenant: &Tenant) -> Vec<UsageHour> {
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    tx.usage_hours(at(-60 * 48), at(60 * 48)).await.unwrap()
}

/// Gives the tenant a collection and one record: stored bytes to read.
async fn store_something(store: &dyn Store, tenant: &Tenant, title: &str) -> u64 {
    let schema = fixtures::schema_json("notes", &[("title", "text", false, false)]);
    let mut tx = store.tenant(tenant.id, Access::Write).await.unwrap();
    if tx.collection("notes").await.unwrap().is_none() {
        tx.insert_collection(fixtures::collection("notes", schema, t0()))
            .await
            .unwrap();
    }
    let record = fixtures::record(
        "notes",
        bulkhead_domain::RecordId::new(),
        None,
        json!({ "title": title }),
        &[],
        t0(),
    );
    tx.insert_record(record).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(tenant.id, Access::Read).await.unwrap();
    tx.usage().await.unwrap().storage_bytes
}

pub async fn metered_use_adds_up_by_hour_and_day_across_flushes(ts: &TestStore) {
    let store = &*ts.store;
    let acme = tenant(store, "acme").await;
    let people = users(store, 4, "person").await;
    let (ada, bob, cy, dee) = (people[0], people[1], people[2], people[3]);
    let today = day_of(t0());
    let yesterday = today - Duration::days(1);
    let stored = store_something(store, &acme, "first").await;

    // One process's flush: two hours of today and the last hour of
    // yesterday, with yesterday's and today's users.
    let late_yesterday = hour_of(t0()) - Duration::hours(13);
    assert_eq!(day_of(late_yesterday), yesterday);
    let first = MeteredUse {
        hours: vec![
            MeteredHour {
                hour: late_yesterday,
                requests: 4,
                records_created: 1,
            },
            MeteredHour {
                hour: hour_of(at(-60)),
                requests: 10,
                records_created: 2,
            },
            MeteredHour {
                hour: hour_of(t0()),
                requests: 5,
                records_created: 0,
            },
        ],
        users: vec![
            MeteredUsers {
                day: yesterday,
                users: vec![ada],
            },
            MeteredUsers {
                day: today,
                users: vec![ada, bob],
            },
        ],
        forget_users_before: yesterday,
    };
    flush(store, &acme, &first).await;
    assert_eq!(
        days(store, &acme, yesterday, today).await,
        vec![
            UsageDay {
                day: yesterday,
                requests: 4,
                records_created: 1,
                storage_bytes: stored,
                active_users: 1,
            },
            UsageDay {
                day: today,
                requests: 15,
                records_created: 2,
                storage_bytes: stored,
                active_users: 2,
            },
        ]
    );

    // Another flush of the same hour and day (a later interval, or another
    // process): the counts add up, the users it shares with the first are
    // not counted again, and the day takes the stored bytes of now.
    let more_stored = store_something(store, &acme, "a longer second title").await;
    assert!(more_stored > stored);
    flush(
        store,
        &acme,
        &fixtures::metered_use(t0(), 7, 3, &[bob, cy, dee, cy]),
    )
    .await;
    let today_row = days(store, &acme, today, today).await;
    assert_eq!(
        today_row,
        vec![UsageDay {
            day: today,
            requests: 22,
            records_created: 5,
            storage_bytes: more_stored,
            active_users: 4,
        }]
    );
    assert_eq!(
        hours(store, &acme).await,
        vec![
            UsageHour {
                hour: late_yesterday,
                requests: 4,
                records_created: 1
            },
            UsageHour {
                hour: hour_of(at(-60)),
                requests: 10,
                records_created: 2
            },
            UsageHour {
                hour: hour_of(t0()),
                requests: 12,
                records_created: 3
            },
        ]
    );
    // Yesterday was not flushed to again: it keeps its stored bytes.
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.usage_day_before(today)
            .await
            .unwrap()
            .map(|d| d.storage_bytes),
        Some(stored)
    );
    let mut remembered = vec![ada, bob, cy, dee];
    remembered.sort();
    assert_eq!(tx.metered_users(today).await.unwrap(), remembered);
    assert_eq!(tx.metered_users(yesterday).await.unwrap(), vec![ada]);
    drop(tx);

    // A flush tomorrow forgets the users of the days before today (the
    // service keeps the flush's day and the one before): yesterday's go,
    // today's stay.
    let tomorrow = today + Duration::days(1);
    let next_day = fixtures::metered_use(at(60 * 24), 1, 0, &[ada]);
    assert_eq!(next_day.forget_users_before, today);
    flush(store, &acme, &next_day).await;
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert!(tx.metered_users(yesterday).await.unwrap().is_empty());
    assert_eq!(tx.metered_users(today).await.unwrap().len(), 4);
    assert_eq!(tx.metered_users(tomorrow).await.unwrap(), vec![ada]);
    let all = tx.usage_days(yesterday, tomorrow).await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.active_users).collect::<Vec<_>>(),
        vec![1, 4, 1],
        "forgetting users takes nothing from a day's count"
    );
}

pub async fn a_flush_of_many_users_counts_each_once(ts: &TestStore) {
    let store = &*ts.store;
    let acme = tenant(store, "acme").await;
    // More than one statement's worth on PostgreSQL, and a remainder.
    let people = users(store, 150, "crowd").await;
    flush(
        store,
        &acme,
        &fixtures::metered_use(t0(), 150, 0, &people[..100]),
    )
    .await;
    flush(
        store,
        &acme,
        &fixtures::metered_use(t0(), 150, 0, &people[37..]),
    )
    .await;
    let today = day_of(t0());
    let row = days(store, &acme, today, today).await;
    assert_eq!(row[0].active_users, 150);
    assert_eq!(row[0].requests, 300);
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    let mut expected = people.clone();
    expected.sort();
    assert_eq!(tx.metered_users(today).await.unwrap(), expected);
}

pub async fn concurrent_flushes_of_one_day_add_up(ts: &TestStore) {
    let store = &*ts.store;
    let acme = tenant(store, "acme").await;
    let people = users(store, 12, "racer").await;
    const N: usize = 8;
    // Each flush (as if from its own process) counts 3 requests and 1
    // record in the same hour, and three users, overlapping its
    // neighbours': 12 distinct users between them.
    let results = fixtures::all_at_once(N, |i| {
        let store = std::sync::Arc::clone(&ts.store);
        let tenant = acme.id;
        let users: Vec<UserId> = (0..3).map(|k| people[(i + k * 4) % 12]).collect();
        async move {
            let mut tx = store.tenant(tenant, Access::Write).await?;
            tx.add_metered_use(&fixtures::metered_use(t0(), 3, 1, &users))
                .await?;
            tx.commit().await
        }
    })
    .await;
    for result in results {
        result.unwrap();
    }
    let today = day_of(t0());
    let row = days(store, &acme, today, today).await;
    assert_eq!(
        (row[0].requests, row[0].records_created),
        (3 * N as u64, N as u64)
    );
    let distinct: std::collections::BTreeSet<UserId> = (0..N)
        .flat_map(|i| (0..3).map(move |k| (i + k * 4) % 12))
        .map(|i| people[i])
        .collect();
    assert_eq!(row[0].active_users, distinct.len() as u64);
    assert_eq!(
        hours(store, &acme).await,
        vec![UsageHour {
            hour: hour_of(t0()),
            requests: 3 * N as u64,
            records_created: N as u64
        }]
    );
}

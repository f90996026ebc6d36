//! Ledger transfers through a crash (issue 21): the load and the crashes of
//! [`crate::crash`], with [`crate::crash::CLIENTS`] clients moving seeded random amounts
//! between [`N_WALLETS`] funded wallets of one tenant, each request with an
//! `Idempotency-Key` of its own. After the restart every transfer answered
//! 201 is posted to both its accounts; the accounts, the house's included,
//! sum to zero; no wallet is below zero; each account's postings are
//! numbered 1, 2, … without a gap, each balance following from the one
//! before up to the account's; every transfer has its `ledger.transfer`
//! audit entry and the chain verifies. Acknowledged requests sent again
//! with their key answer the same transfer and move nothing more.

use std::collections::{BTreeMap, BTreeSet};

use bulkhead_client::types::{AccountView, CreateTransferRequest, PostingView, TenantView};
use bulkhead_client::{Client, Method};
use rand::rngs::StdRng;
use rand::seq::{IteratorRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

use crate::crash::{
    Workload, assert_audit_matches, survive_a_killed_server, survive_a_postgres_crash,
};
use crate::harness::{Account, Backend, TestServer, request};
use crate::ledger::{
    assert_consistent, books, cents, dollars, funded_wallets, open, transfer, transfers_path, usd,
};

/// The wallets money moves between, each funded with [`FUNDING`].
const N_WALLETS: usize = 20;
const FUNDING: &str = "100.00";

/// The seed of the transfers (printed on failure).
const SEED: u64 = 0x21c0_ffee;

/// How many acknowledged transfers are sent again after the restart.
const REPLAYS: usize = 32;

/// Acknowledged transfers survive a killed server.
async fn acknowledged_transfers_survive_a_killed_server(backend: Backend) {
    survive_a_killed_server::<Transfers>(backend).await;
}
scenario!(acknowledged_transfers_survive_a_killed_server, backend);

/// Acknowledged transfers survive a PostgreSQL crash.
#[tokio::test]
async fn acknowledged_transfers_survive_a_postgres_crash() {
    survive_a_postgres_crash::<Transfers>().await;
}

/// Random transfers between funded wallets of one tenant, made by its
/// owner.
struct Transfers {
    /// The tenant's slug.
    tenant: String,
    /// The account that funded the wallets, which may go negative.
    house: Uuid,
    wallets: Vec<Uuid>,
}

/// A transfer as it was sent.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    request: CreateTransferRequest,
}

impl Workload for Transfers {
    type Sent = Sent;

    const WHAT: &'static str = "transfers";

    async fn prepare(server: &TestServer) -> (Account, TenantView, Transfers) {
        let owner = server.signup("owner@ledger-crash.example").await;
        let tenant = server.create_tenant(&owner, "ledger-crash").await;
        let t = tenant.slug.clone();
        let house = open(&owner.client, &t, &usd("House", None, true)).await.id;
        let wallets = funded_wallets(&owner.client, &t, house, N_WALLETS, FUNDING).await;
        let transfers = Transfers {
            tenant: t,
            house,
            wallets,
        };
        (owner, tenant, transfers)
    }

    fn write(&self, client: &Client, worker: usize, n: u64) -> (Client, String, Value, Sent) {
        // Each request draws from its own seed: the same whatever order
        // the clients run in.
        let mut rng = StdRng::seed_from_u64(SEED ^ (u64::try_from(worker).unwrap() << 40) ^ n);
        let mut pair = self.wallets.choose_multiple(&mut rng, 2);
        let (from, to) = (*pair.next().unwrap(), *pair.next().unwrap());
        // Up to 40.00 from wallets of about 100.00: now and then more than
        // the source holds, which is refused and moves nothing.
        let amount = dollars(rng.gen_range(1..=4_000));
        let sent = Sent {
            key: format!("crash-{worker}-{n}"),
            request: CreateTransferRequest {
                from,
                to,
                amount,
                memo: None,
            },
        };
        let body = serde_json::to_value(&sent.request).unwrap();
        let sender = client.with_header("idempotency-key", &sent.key);
        (sender, transfers_path(&self.tenant), body, sent)
    }

    async fn write_after_restart(&self, client: &Client, tenant: &str) -> (Uuid, Sent) {
        let sent = Sent {
            key: "after-the-restart".to_owned(),
            request: CreateTransferRequest {
                from: self.house,
                to: self.wallets[0],
                amount: "1.00".to_owned(),
                memo: Some("after the restart".to_owned()),
            },
        };
        let r = &sent.request;
        let memo = r.memo.as_deref();
        let made = transfer(client, tenant, &sent.key, r.from, r.to, &r.amount, memo).await;
        (made.id, sent)
    }

    async fn check(
        &self,
        server: &TestServer,
        owner: &Account,
        tenant: &TenantView,
        acknowledged: &BTreeMap<Uuid, Sent>,
    ) {
        let (client, t) = (&owner.client, tenant.slug.as_str());
        let context = format!("seed {SEED:#x}");
        let before = books(client, t).await;
        self.assert_balanced(&before, acknowledged, &context);

        // Sent again with their keys: the same transfer, and nothing moves.
        let mut rng = StdRng::seed_from_u64(SEED);
        for (id, sent) in acknowledged.iter().choose_multiple(&mut rng, REPLAYS) {
            let body = serde_json::to_value(&sent.request).unwrap();
            let replayer = client.with_header("idempotency-key", &sent.key);
            let answer = request(&replayer, Method::POST, &transfers_path(t), Some(body)).await;
            assert_eq!(
                answer.status,
                201,
                "{context}: replay of {sent:?}: {}",
                answer.text()
            );
            let replayed: Value = answer.json().unwrap();
            assert_eq!(
                replayed["id"].as_str(),
                Some(id.to_string().as_str()),
                "{context}: the replay of {} answered another transfer",
                sent.key
            );
        }
        let after = books(client, t).await;
        assert_eq!(before, after, "{context}: replays moved money");

        let posted: BTreeSet<Uuid> = after
            .iter()
            .flat_map(|(_, entries)| entries.iter().map(|p| p.transfer_id))
            .collect();
        assert_audit_matches(server, owner, tenant, "ledger.transfer", &posted).await;
    }
}

impl Transfers {
    /// The books balance and hold every acknowledged transfer: see the
    /// module's documentation.
    fn assert_balanced(
        &self,
        books: &[(AccountView, Vec<PostingView>)],
        acknowledged: &BTreeMap<Uuid, Sent>,
        context: &str,
    ) {
        assert_eq!(books.len(), N_WALLETS + 1, "{context}: accounts");
        let mut total = 0;
        // Transfer → (account, signed amount) of each of its postings.
        let mut postings: BTreeMap<Uuid, Vec<(Uuid, i64)>> = BTreeMap::new();
        for (account, entries) in books {
            assert_consistent(account, entries);
            let balance = cents(&account.balance);
            total += balance;
            if account.id != self.house {
                assert!(!account.allow_negative, "{context}: {}", account.name);
                assert!(balance >= 0, "{context}: {} is at {balance}", account.name);
            }
            for posting in entries {
                let leg = (account.id, cents(&posting.amount));
                postings.entry(posting.transfer_id).or_default().push(leg);
            }
        }
        assert_eq!(total, 0, "{context}: the accounts do not sum to zero");
        let lopsided: Vec<_> = postings
            .iter()
            .filter(|(_, legs)| legs.len() != 2 || legs[0].1 + legs[1].1 != 0)
            .collect();
        assert!(
            lopsided.is_empty(),
            "{context}: transfers not posted as one debit and one credit: {lopsided:?}"
        );
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|(id, sent)| {
                let amount = cents(&sent.request.amount);
                let mut legs = postings.get(id).cloned().unwrap_or_default();
                legs.sort_unstable();
                let mut expected = vec![(sent.request.from, -amount), (sent.request.to, amount)];
                expected.sort_unstable();
                legs != expected
            })
            .collect();
        assert!(
            lost.is_empty(),
            "{context}: {} of {} acknowledged transfers are missing or changed: {lost:?}",
            lost.len(),
            acknowledged.len()
        );
        let n_funding = N_WALLETS;
        eprintln!(
            "{} transfers posted: {n_funding} fundings, the {} acknowledged and {} whose \
             answer was lost",
            postings.len(),
            acknowledged.len(),
            postings.len() - n_funding - acknowledged.len()
        );
    }
}

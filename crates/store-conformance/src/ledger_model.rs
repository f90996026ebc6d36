//! A model-based case of the ledger: random sequences of transfers, holds,
//! captures, releases, charges, idempotency-key claims and clock moves on one
//! tenant, each step checked against an in-memory reference ledger: the
//! same outcome (posted, or refused for the same reason), then every
//! account's balance and held amount, and every hold's status. Each
//! sequence ends with the books check (postings sum to zero, every balance
//! is the sum of its postings, numbered without gaps).
//!
//! Sequence `n` runs with seed `SEED + n`; every assertion names its seed.
//! `BULKHEAD_LEDGER_MODEL_SEED=<seed>` runs that one sequence alone.

use std::collections::BTreeMap;

use bulkhead_domain::{ChargeId, HoldId, LedgerAccountId, TenantId, TransferId};
use bulkhead_store::ledger::{
    Caps, Capture, HoldRefusal, HoldStatus, Limit, NewCharge, NewHold, NewTransfer, SettleHold,
    SettleRefusal, TransferKind, TransferRefusal, utc_day, utc_month,
};
use bulkhead_store::{Access, IdempotencyClaim, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Duration, OffsetDateTime};

use crate::TestStore;
use crate::fixtures::{self, hash_of, t0};
use crate::ledger::assert_books_balance;

const SEED: u64 = 0x1ed6_e500;
const SEQUENCES: u64 = 6;
const OPS: usize = 60;
/// A small pool, so that claims often meet a key already used.
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];
const BODIES: [&str; 2] = ["body-a", "body-b"];

/// An account as the reference ledger keeps it.
#[derive(Debug, Clone)]
struct Account {
    id: LedgerAccountId,
    overdraft: bool,
    /// Charges are recorded, not debited.
    unlimited: bool,
    caps: Caps,
    balance: i64,
    /// (day, spent that day, month, spent that month), as the store counts.
    spent: (i64, i64, i64, i64),
}

#[derive(Debug, Clone)]
struct Hold {
    id: HoldId,
    account: usize,
    amount: i64,
    expires_at: OffsetDateTime,
    /// `Held` until captured or released; expiry is read from the clock.
    status: HoldStatus,
}

impl Hold {
    fn status_at(&self, now: OffsetDateTime) -> HoldStatus {
        match self.status {
            HoldStatus::Held if self.expires_at <= now => HoldStatus::Expired,
            status => status,
        }
    }
}

/// The reference ledger: account 0 is the house.
#[derive(Debug, Default)]
struct Model {
    accounts: Vec<Account>,
    holds: Vec<Hold>,
    /// key → (request, answer)
    keys: BTreeMap<&'static str, (&'static str, String)>,
}

impl Model {
    fn held(&self, account: usize, now: OffsetDateTime) -> i64 {
        self.holds
            .iter()
            .filter(|hold| hold.account == account && hold.status_at(now) == HoldStatus::Held)
            .map(|hold| hold.amount)
            .sum()
    }

    /// What posting `amount` from `from` to `to` at `now` does, `release`
    /// of `from`'s holds given back in the same step.
    fn post(
        &mut self,
        from: usize,
        to: usize,
        amount: i64,
        release: i64,
        now: OffsetDateTime,
    ) -> Result<(), TransferRefusal> {
        let held = self.held(from, now) - release;
        let source = &self.accounts[from];
        let (day, month) = (utc_day(now), utc_month(now));
        let (spent_day, today, spent_month, this_month) = source.spent;
        let today = if spent_day == day { today } else { 0 }.saturating_add(amount);
        let this_month = if spent_month == month { this_month } else { 0 }.saturating_add(amount);
        if !source.overdraft && source.balance - held < amount {
            return Err(TransferRefusal::InsufficientFunds);
        }
        if source.caps.single.is_some_and(|cap| amount > cap) {
            return Err(TransferRefusal::LimitExceeded(Limit::Single));
        }
        if source.caps.daily.is_some_and(|cap| today > cap) {
            return Err(TransferRefusal::LimitExceeded(Limit::Daily));
        }
        if source.caps.monthly.is_some_and(|cap| this_month > cap) {
            return Err(TransferRefusal::LimitExceeded(Limit::Monthly));
        }
        let source = &mut self.accounts[from];
        source.balance -= amount;
        source.spent = (day, today, month, this_month);
        self.accounts[to].balance += amount;
        Ok(())
    }
}

fn transfer(from: &Account, to: &Account, amount: i64, at: OffsetDateTime) -> NewTransfer {
    NewTransfer {
        id: TransferId::new(),
        kind: TransferKind::Transfer,
        from: from.id,
        to: to.id,
        amount,
        memo: None,
        at,
        caps: from.caps,
    }
}

/// Opens the house and five wallets (two plain, one capped, one that may
/// go negative, one unlimited) and funds the wallets from the house.
async fn open_books(store: &dyn Store, tenant: TenantId, rng: &mut StdRng) -> Model {
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    let house = tx.house_account("USD", 2, t0()).await.unwrap();
    let mut model = Model::default();
    model.accounts.push(Account {
        id: house.id,
        overdraft: true,
        unlimited: false,
        caps: Caps::NONE,
        balance: 0,
        spent: (0, 0, 0, 0),
    });
    let capped = Caps {
        single: Some(300),
        daily: Some(500),
        monthly: Some(800),
    };
    for (name, caps, overdraft, unlimited) in [
        ("plain-1", Caps::NONE, false, false),
        ("plain-2", Caps::NONE, false, false),
        ("capped", capped, false, false),
        ("overdraft", Caps::NONE, true, false),
        ("unlimited", Caps::NONE, false, true),
    ] {
        let mut new = fixtures::ledger_account(name, "USD", None, overdraft);
        new.unlimited = unlimited;
        let opened = tx.insert_ledger_account(new).await.unwrap();
        model.accounts.push(Account {
            id: opened.id,
            overdraft: overdraft || unlimited,
            unlimited,
            caps,
            balance: 0,
            spent: (0, 0, 0, 0),
        });
        let amount = rng.gen_range(200..2_000);
        let index = model.accounts.len() - 1;
        let funding = transfer(&model.accounts[0], &model.accounts[index], amount, t0());
        tx.post_transfer(funding).await.unwrap().unwrap();
        model.post(0, index, amount, 0, t0()).unwrap();
    }
    tx.commit().await.unwrap();
    model
}

/// Every account's balance and held amount at `now`, and every hold's
/// status, as the store has them and as the model does.
async fn compare(
    store: &dyn Store,
    tenant: TenantId,
    model: &Model,
    now: OffsetDateTime,
    seed: u64,
) {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    for (index, expected) in model.accounts.iter().enumerate() {
        let stored = tx.ledger_account(expected.id, now).await.unwrap().unwrap();
        assert_eq!(
            (stored.balance, stored.held),
            (expected.balance, model.held(index, now)),
            "seed {seed}: account {index}"
        );
    }
    for hold in &model.holds {
        let stored = tx.ledger_hold(hold.id).await.unwrap().unwrap();
        assert_eq!(
            stored.status_at(now),
            hold.status_at(now),
            "seed {seed}: hold {}",
            hold.id
        );
    }
}

async fn run_sequence(store: &dyn Store, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let owner = fixtures::user(store, &format!("owner-{seed}@example.com")).await;
    let tenant = fixtures::tenant(store, &format!("ledger-{seed:x}"), &owner)
        .await
        .id;
    let mut model = open_books(store, tenant, &mut rng).await;
    let mut now = t0();
    for step in 0..OPS {
        let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
        let wallet = |rng: &mut StdRng| rng.gen_range(1..6);
        match rng.gen_range(0..11) {
            0..=3 => {
                let from = wallet(&mut rng);
                let to = (from + rng.gen_range(1..6)) % 6;
                let amount = rng.gen_range(1..=700);
                let new = transfer(&model.accounts[from], &model.accounts[to], amount, now);
                let stored = tx.post_transfer(new).await.unwrap().map(|_| ());
                let expected = model.post(from, to, amount, 0, now);
                assert_eq!(
                    stored, expected,
                    "seed {seed} step {step}: {from} → {to}: {amount}"
                );
            }
            4 | 5 => {
                let account = wallet(&mut rng);
                let amount = rng.gen_range(1..=500);
                let expires_at = now + Duration::minutes(rng.gen_range(1..=30));
                let new = NewHold {
                    id: HoldId::new(),
                    account: model.accounts[account].id,
                    amount,
                    memo: None,
                    expires_at,
                    at: now,
                    single_cap: model.accounts[account].caps.single,
                };
                let id = new.id;
                let stored = tx.place_hold(new).await.unwrap().map(|_| ());
                let source = &model.accounts[account];
                let expected =
                    if !source.overdraft && source.balance - model.held(account, now) < amount {
                        Err(HoldRefusal::InsufficientFunds)
                    } else if source.caps.single.is_some_and(|cap| amount > cap) {
                        Err(HoldRefusal::LimitExceeded(Limit::Single))
                    } else {
                        model.holds.push(Hold {
                            id,
                            account,
                            amount,
                            expires_at,
                            status: HoldStatus::Held,
                        });
                        Ok(())
                    };
                assert_eq!(
                    stored, expected,
                    "seed {seed} step {step}: hold {amount} on {account}"
                );
            }
            6 | 7 if !model.holds.is_empty() => {
                let index = rng.gen_range(0..model.holds.len());
                let hold = model.holds[index].clone();
                let capture = rng.gen_bool(0.6);
                let amount = rng
                    .gen_bool(0.5)
                    .then(|| rng.gen_range(1..=hold.amount + 50));
                let settle = SettleHold {
                    hold: hold.id,
                    at: now,
                    capture: capture.then(|| Capture {
                        amount,
                        transfer: TransferId::new(),
                        to: model.accounts[0].id,
                        memo: None,
                        caps: model.accounts[hold.account].caps,
                    }),
                };
                let stored = tx.settle_hold(settle).await.unwrap().map(|_| ());
                let expected = match hold.status_at(now) {
                    HoldStatus::Expired => Err(SettleRefusal::Expired),
                    HoldStatus::Captured | HoldStatus::Released => Err(SettleRefusal::Settled),
                    HoldStatus::Held if !capture => {
                        model.holds[index].status = HoldStatus::Released;
                        Ok(())
                    }
                    HoldStatus::Held => {
                        let amount = amount.unwrap_or(hold.amount);
                        if amount > hold.amount {
                            Err(SettleRefusal::CaptureExceedsHold)
                        } else {
                            match model.post(hold.account, 0, amount, hold.amount, now) {
                                Ok(()) => {
                                    model.holds[index].status = HoldStatus::Captured;
                                    Ok(())
                                }
                                Err(refusal) => Err(SettleRefusal::Transfer(refusal)),
                            }
                        }
                    }
                };
                assert_eq!(stored, expected, "seed {seed} step {step}: settle {hold:?}");
            }
            8 => {
                let key = KEYS[rng.gen_range(0..KEYS.len())];
                let request = BODIES[rng.gen_range(0..BODIES.len())];
                let claim = tx
                    .claim_idempotency_key(key, &hash_of(request), now)
                    .await
                    .unwrap();
                let expected = match model.keys.get(key) {
                    None => {
                        let answer = format!("{key} answered at step {step}");
                        tx.complete_idempotency_key(key, 201, &serde_json::json!(answer))
                            .await
                            .unwrap();
                        model.keys.insert(key, (request, answer));
                        IdempotencyClaim::New
                    }
                    Some((first, answer)) if *first == request => IdempotencyClaim::Replay {
                        status: 201,
                        body: serde_json::json!(answer),
                    },
                    Some(_) => IdempotencyClaim::Mismatch,
                };
                assert_eq!(claim, expected, "seed {seed} step {step}: key {key}");
            }
            9 => {
                // A charge: a payment to the house, recorded but not
                // debited from the unlimited account.
                let account = wallet(&mut rng);
                let amount = rng.gen_range(1..=400);
                let charge = NewCharge {
                    id: ChargeId::new(),
                    account: model.accounts[account].id,
                    cost: amount,
                    markup_millionths: 1_000_000,
                    amount,
                    memo: None,
                    at: now,
                    transfer: TransferId::new(),
                    house: model.accounts[0].id,
                    caps: model.accounts[account].caps,
                };
                let stored = tx.record_charge(charge).await.unwrap();
                let expected = if model.accounts[account].unlimited {
                    Ok(false)
                } else {
                    model.post(account, 0, amount, 0, now).map(|()| true)
                };
                let stored = stored.map(|charge| charge.transfer_id.is_some());
                assert_eq!(
                    stored, expected,
                    "seed {seed} step {step}: charge {amount} to {account}"
                );
            }
            _ => {
                // Mostly minutes, sometimes a day: holds expire and the
                // capped account's windows turn over.
                now += if rng.gen_bool(0.2) {
                    Duration::days(1)
                } else {
                    Duration::minutes(rng.gen_range(0..=20))
                };
            }
        }
        tx.commit().await.unwrap();
        compare(store, tenant, &model, now, seed).await;
    }
    assert_books_balance(store, tenant).await;
}

#[allow(
    clippy::disallowed_methods,
    reason = "a test's own switch to replay one seed, not a server setting"
)]
pub async fn the_ledger_matches_a_reference_model_under_random_operations(ts: &TestStore) {
    let store = &*ts.store;
    let seeds: Vec<u64> = match std::env::var("BULKHEAD_LEDGER_MODEL_SEED") {
        Ok(seed) => vec![
            seed.parse()
                .expect("BULKHEAD_LEDGER_MODEL_SEED is a number"),
        ],
        Err(_) => (0..SEQUENCES).map(|n| SEED + n).collect(),
    };
    for seed in seeds {
        run_sequence(store, seed).await;
    }
}

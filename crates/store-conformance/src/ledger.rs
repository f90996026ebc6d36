//! The ledger's cases: accounts, transfers and postings, the refusals that
//! write nothing, and the invariants under concurrency (E1, E2 of
//! RELIABILITY.md): postings sum to zero, every balance is the sum of its
//! postings, and no account without overdraft ever goes below zero.

use std::sync::Arc;

use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{HoldId, LedgerAccountId, TenantId, TransferId};
use bulkhead_store::ledger::{
    Caps, Capture, HoldRefusal, HoldStatus, LedgerAccount, LedgerAccountQuery, Limit,
    LimitProfileRow, Posting, PostingQuery, SettleHold, SettleRefusal, TransferKind,
    TransferRefusal,
};
use bulkhead_store::{Access, Store};

use crate::TestStore;
use crate::fixtures::{self, at, t0};

fn all_accounts() -> LedgerAccountQuery {
    LedgerAccountQuery {
        owner: None,
        after: None,
        limit: 1000,
        now: t0(),
    }
}

async fn accounts(store: &dyn Store, tenant: TenantId) -> Vec<LedgerAccount> {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    tx.ledger_accounts(&all_accounts()).await.unwrap()
}

async fn postings(store: &dyn Store, tenant: TenantId, account: LedgerAccountId) -> Vec<Posting> {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    let query = PostingQuery {
        account,
        before_seq: None,
        limit: 10_000,
    };
    tx.ledger_postings(&query).await.unwrap()
}

/// Every account's balance is the sum of its postings, its postings are
/// numbered 1.. without gaps with `balance_after` running, and all postings
/// of the tenant sum to zero.
pub(crate) async fn assert_books_balance(store: &dyn Store, tenant: TenantId) {
    let mut total: i128 = 0;
    for account in accounts(store, tenant).await {
        let mut postings = postings(store, tenant, account.id).await;
        postings.reverse();
        let mut running = 0i64;
        for (i, posting) in postings.iter().enumerate() {
            assert_eq!(posting.seq, i as i64 + 1, "{posting:?}");
            running += posting.amount;
            assert_eq!(posting.balance_after, running, "{posting:?}");
        }
        assert_eq!(account.balance, running, "{account:?}");
        assert_eq!(account.last_posting, postings.len() as i64);
        if !account.allow_negative && !account.unlimited {
            assert!(account.balance >= 0, "{account:?}");
        }
        total += i128::from(running);
    }
    assert_eq!(total, 0, "the postings of the tenant must sum to zero");
}

pub async fn ledger_accounts_are_opened_read_and_listed(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let member = fixtures::user(store, "member@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let mut opened = Vec::new();
    for (name, holder) in [
        ("house", None),
        ("a", Some(member.id)),
        ("b", Some(owner.id)),
    ] {
        let mut new = fixtures::ledger_account(name, "CREDITS", holder, holder.is_none());
        new.scale = 6;
        new.limit_profile = holder.map(|_| "gold".to_owned());
        let account = tx.insert_ledger_account(new.clone()).await.unwrap();
        assert_eq!(
            (account.id, &account.name, account.scale, account.owner_id),
            (new.id, &new.name, 6, holder)
        );
        assert_eq!(
            (account.balance, account.held, account.last_posting),
            (0, 0, 0)
        );
        assert_eq!(account.created_at, t0());
        opened.push(account);
    }
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    for account in &opened {
        assert_eq!(
            tx.ledger_account(account.id, t0()).await.unwrap().as_ref(),
            Some(account)
        );
    }
    assert!(
        tx.ledger_account(LedgerAccountId::new(), t0())
            .await
            .unwrap()
            .is_none()
    );
    let mut by_id = opened.clone();
    by_id.sort_by_key(|account| account.id);
    assert_eq!(tx.ledger_accounts(&all_accounts()).await.unwrap(), by_id);
    let first_page = LedgerAccountQuery {
        limit: 2,
        ..all_accounts()
    };
    let page = tx.ledger_accounts(&first_page).await.unwrap();
    assert_eq!(page, by_id[..2]);
    let next = LedgerAccountQuery {
        after: Some(page[1].id),
        ..first_page
    };
    assert_eq!(tx.ledger_accounts(&next).await.unwrap(), by_id[2..]);
    let members = LedgerAccountQuery {
        owner: Some(member.id),
        ..all_accounts()
    };
    assert_eq!(
        tx.ledger_accounts(&members).await.unwrap(),
        vec![opened[1].clone()]
    );
}

pub async fn transfers_move_money_in_balanced_postings(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let house = fixtures::ledger_account("house", "USD", None, true);
    let house = tx.insert_ledger_account(house).await.unwrap();
    let alice = fixtures::ledger_account("alice", "USD", Some(owner.id), false);
    let alice = tx.insert_ledger_account(alice).await.unwrap();
    let bob = tx
        .insert_ledger_account(fixtures::ledger_account("bob", "USD", None, false))
        .await
        .unwrap();
    let grant = fixtures::transfer(house.id, alice.id, 10_000);
    let posted = tx.post_transfer(grant.clone()).await.unwrap().unwrap();
    assert_eq!((posted.from_balance, posted.to_balance), (-10_000, 10_000));
    let mut pay = fixtures::transfer(alice.id, bob.id, 2_550);
    pay.kind = TransferKind::Charge;
    pay.memo = None;
    let posted = tx.post_transfer(pay.clone()).await.unwrap().unwrap();
    assert_eq!(
        (
            posted.id,
            posted.kind,
            posted.amount,
            posted.memo.as_deref()
        ),
        (pay.id, TransferKind::Charge, 2_550, None)
    );
    assert_eq!((posted.from_balance, posted.to_balance), (7_450, 2_550));
    assert_eq!(posted.created_at, t0());
    tx.commit().await.unwrap();

    let alices = postings(store, acme.id, alice.id).await;
    assert_eq!(alices.len(), 2);
    let (newest, oldest) = (&alices[0], &alices[1]);
    assert_eq!(
        (
            newest.seq,
            newest.transfer_id,
            newest.kind,
            newest.counterparty
        ),
        (2, pay.id, TransferKind::Charge, bob.id)
    );
    assert_eq!((newest.amount, newest.balance_after), (-2_550, 7_450));
    assert_eq!(
        (
            oldest.seq,
            oldest.transfer_id,
            oldest.counterparty,
            oldest.amount
        ),
        (1, grant.id, house.id, 10_000)
    );
    assert_eq!(oldest.memo, grant.memo);
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    let older = PostingQuery {
        account: alice.id,
        before_seq: Some(2),
        limit: 10,
    };
    assert_eq!(tx.ledger_postings(&older).await.unwrap(), alices[1..]);
    let alice = tx.ledger_account(alice.id, t0()).await.unwrap().unwrap();
    assert_eq!(
        (alice.balance, alice.available(), alice.last_posting),
        (7_450, 7_450, 2)
    );
    drop(tx);
    assert_books_balance(store, acme.id).await;
}

pub async fn a_refused_transfer_writes_nothing(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let house = tx
        .insert_ledger_account(fixtures::ledger_account("house", "USD", None, true))
        .await
        .unwrap();
    let wallet = tx
        .insert_ledger_account(fixtures::ledger_account("wallet", "USD", None, false))
        .await
        .unwrap();
    let euros = tx
        .insert_ledger_account(fixtures::ledger_account("euros", "EUR", None, false))
        .await
        .unwrap();
    let mut cents = fixtures::ledger_account("mills", "USD", None, false);
    cents.scale = 3;
    let mills = tx.insert_ledger_account(cents).await.unwrap();
    let mut unlimited = fixtures::ledger_account("admin", "USD", None, false);
    unlimited.unlimited = true;
    let unlimited = tx.insert_ledger_account(unlimited).await.unwrap();
    tx.post_transfer(fixtures::transfer(house.id, wallet.id, 100))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(globex.id, Access::Write).await.unwrap();
    let elsewhere = tx
        .insert_ledger_account(fixtures::ledger_account("elsewhere", "USD", None, true))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = accounts(store, acme.id).await;

    let refused = [
        (wallet.id, house.id, 101, TransferRefusal::InsufficientFunds),
        (wallet.id, euros.id, 1, TransferRefusal::CurrencyMismatch),
        (wallet.id, mills.id, 1, TransferRefusal::CurrencyMismatch),
        (
            LedgerAccountId::new(),
            wallet.id,
            1,
            TransferRefusal::FromNotFound,
        ),
        (elsewhere.id, wallet.id, 1, TransferRefusal::FromNotFound),
        (wallet.id, elsewhere.id, 1, TransferRefusal::ToNotFound),
        (
            house.id,
            wallet.id,
            i64::MAX,
            TransferRefusal::BalanceOverflow,
        ),
    ];
    for (from, to, amount, refusal) in refused {
        let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
        let outcome = tx.post_transfer(fixtures::transfer(from, to, amount)).await;
        assert_eq!(outcome.unwrap(), Err(refusal), "{from} → {to}: {amount}");
        tx.commit().await.unwrap();
    }
    assert_eq!(accounts(store, acme.id).await, before);
    assert_eq!(postings(store, acme.id, wallet.id).await.len(), 1);

    // Overdraft and unlimited accounts may go below zero; the others may
    // spend exactly what they have.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    for (from, amount) in [(unlimited.id, 5_000), (wallet.id, 100), (house.id, 1)] {
        let to = if from == wallet.id {
            house.id
        } else {
            wallet.id
        };
        tx.post_transfer(fixtures::transfer(from, to, amount))
            .await
            .unwrap()
            .unwrap();
    }
    tx.commit().await.unwrap();
    let after = accounts(store, acme.id).await;
    let balance = |id| after.iter().find(|a| a.id == id).unwrap().balance;
    assert_eq!(
        (balance(unlimited.id), balance(wallet.id), balance(house.id)),
        (-5_000, 5_001, -1)
    );
    assert_books_balance(store, acme.id).await;
}

pub async fn concurrent_debits_never_overdraw_an_account(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let acme = fixtures::tenant(&*store, "acme", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let house = tx
        .insert_ledger_account(fixtures::ledger_account("house", "USD", None, true))
        .await
        .unwrap();
    let wallet = tx
        .insert_ledger_account(fixtures::ledger_account("wallet", "USD", None, false))
        .await
        .unwrap();
    tx.post_transfer(fixtures::transfer(house.id, wallet.id, 1_000))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    // 64 debits of 70 from a balance of 1,000: exactly ⌊1000 / 70⌋ = 14 pass.
    let outcomes = fixtures::all_at_once(64, |_| {
        let store = Arc::clone(&store);
        async move {
            let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
            let outcome = tx
                .post_transfer(fixtures::transfer(wallet.id, house.id, 70))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            outcome.map(|posted| posted.from_balance)
        }
    })
    .await;
    let passed: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().copied())
        .collect();
    assert_eq!(passed.len(), 14, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(_) | Err(TransferRefusal::InsufficientFunds)))
    );
    let mut left = passed.clone();
    left.sort_unstable();
    assert_eq!(left, (0..14).map(|i| 20 + 70 * i).collect::<Vec<_>>());
    assert_books_balance(&*store, acme.id).await;
}

pub async fn transfers_both_ways_between_a_pair_all_post(ts: &TestStore) {
    let store = Arc::clone(&ts.store);
    let owner = fixtures::user(&*store, "owner@example.com").await;
    let acme = fixtures::tenant(&*store, "acme", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let house = tx
        .insert_ledger_account(fixtures::ledger_account("house", "USD", None, true))
        .await
        .unwrap();
    let mut pair = Vec::new();
    for name in ["left", "right"] {
        let account = tx
            .insert_ledger_account(fixtures::ledger_account(name, "USD", None, false))
            .await
            .unwrap();
        tx.post_transfer(fixtures::transfer(house.id, account.id, 1_000))
            .await
            .unwrap()
            .unwrap();
        pair.push(account.id);
    }
    tx.commit().await.unwrap();

    // Each way round takes the two accounts' locks; in id order, they
    // never deadlock, so every transfer posts.
    let (left, right) = (pair[0], pair[1]);
    let outcomes = fixtures::all_at_once(32, |i| {
        let store = Arc::clone(&store);
        let (from, to) = if i % 2 == 0 {
            (left, right)
        } else {
            (right, left)
        };
        async move {
            let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
            let outcome = tx.post_transfer(fixtures::transfer(from, to, 10)).await;
            let outcome = outcome.unwrap();
            tx.commit().await.unwrap();
            outcome
        }
    })
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let after = accounts(&*store, acme.id).await;
    for id in [left, right] {
        let account = after.iter().find(|a| a.id == id).unwrap();
        assert_eq!((account.balance, account.last_posting), (1_000, 33));
    }
    assert_books_balance(&*store, acme.id).await;
}

/// A house account and a wallet funded from it with `amount`.
async fn house_and_wallet(
    store: &dyn Store,
    tenant: TenantId,
    amount: i64,
) -> (LedgerAccount, LedgerAccount) {
    let mut tx = store.tenant(tenant, Access::Write).await.unwrap();
    let house = tx.house_account("USD", 2, t0()).await.unwrap();
    let wallet = tx
        .insert_ledger_account(fixtures::ledger_account("wallet", "USD", None, false))
        .await
        .unwrap();
    tx.post_transfer(fixtures::transfer(house.id, wallet.id, amount))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    (house, wallet)
}

async fn account_at(
    store: &dyn Store,
    tenant: TenantId,
    id: LedgerAccountId,
    now: time::OffsetDateTime,
) -> LedgerAccount {
    let mut tx = store.tenant(tenant, Access::Read).await.unwrap();
    tx.ledger_account(id, now).await.unwrap().unwrap()
}

fn capture(to: LedgerAccountId, amount: Option<i64>) -> Option<Capture> {
    Some(Capture {
        amount,
        transfer: TransferId::new(),
        to,
        memo: None,
        caps: Caps::NONE,
    })
}

pub async fn a_house_account_is_opened_once_per_currency_and_scale(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let first = tx.house_account("USD", 2, t0()).await.unwrap();
    assert!(first.house && first.allow_negative && first.owner_id.is_none());
    assert_eq!((first.currency.as_str(), first.scale), ("USD", 2));
    assert_eq!(tx.house_account("USD", 2, at(5)).await.unwrap(), first);
    let mills = tx.house_account("USD", 3, t0()).await.unwrap();
    let euros = tx.house_account("EUR", 2, t0()).await.unwrap();
    assert!(mills.id != first.id && euros.id != first.id && mills.id != euros.id);
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    assert_eq!(
        tx.house_account("USD", 2, at(9)).await.unwrap().id,
        first.id
    );
}

pub async fn holds_reserve_until_captured_released_or_expired(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let (house, wallet) = house_and_wallet(store, acme.id, 1_000).await;

    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let first = tx
        .place_hold(fixtures::hold(wallet.id, 300, 60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.status, first.amount, first.captured),
        (HoldStatus::Held, 300, 0)
    );
    assert_eq!(
        tx.place_hold(fixtures::hold(wallet.id, 701, 60))
            .await
            .unwrap(),
        Err(HoldRefusal::InsufficientFunds)
    );
    // A transfer may spend only what no hold reserves.
    assert_eq!(
        tx.post_transfer(fixtures::transfer(wallet.id, house.id, 701))
            .await
            .unwrap(),
        Err(TransferRefusal::InsufficientFunds)
    );
    tx.commit().await.unwrap();
    let read = account_at(store, acme.id, wallet.id, at(1)).await;
    assert_eq!(
        (read.balance, read.held, read.available()),
        (1_000, 300, 700)
    );

    // Capturing 200 of 300 moves 200 to the house and frees the rest.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let too_much = SettleHold {
        hold: first.id,
        at: at(1),
        capture: capture(house.id, Some(301)),
    };
    assert_eq!(
        tx.settle_hold(too_much).await.unwrap(),
        Err(SettleRefusal::CaptureExceedsHold)
    );
    let settle = SettleHold {
        hold: first.id,
        at: at(1),
        capture: capture(house.id, Some(200)),
    };
    let settled = tx.settle_hold(settle).await.unwrap().unwrap();
    let transfer = settled.transfer.unwrap();
    assert_eq!(
        (transfer.kind, transfer.from, transfer.to, transfer.amount),
        (TransferKind::Capture, wallet.id, house.id, 200)
    );
    assert_eq!(transfer.from_balance, 800);
    assert_eq!(
        (
            settled.hold.status,
            settled.hold.captured,
            settled.hold.transfer_id
        ),
        (HoldStatus::Captured, 200, Some(transfer.id))
    );
    for capture_it in [None, capture(house.id, None)] {
        let again = SettleHold {
            hold: first.id,
            at: at(2),
            capture: capture_it,
        };
        assert_eq!(
            tx.settle_hold(again).await.unwrap(),
            Err(SettleRefusal::Settled)
        );
    }
    // Released: everything is available again.
    let second = tx
        .place_hold(fixtures::hold(wallet.id, 500, 60))
        .await
        .unwrap()
        .unwrap();
    let release = SettleHold {
        hold: second.id,
        at: at(2),
        capture: None,
    };
    let released = tx.settle_hold(release).await.unwrap().unwrap();
    assert_eq!(
        (released.hold.status, released.transfer),
        (HoldStatus::Released, None)
    );
    let unknown = SettleHold {
        hold: HoldId::new(),
        at: at(2),
        capture: None,
    };
    assert_eq!(
        tx.settle_hold(unknown).await.unwrap(),
        Err(SettleRefusal::HoldNotFound)
    );
    // A hold that runs out at minute 10.
    let third = tx
        .place_hold(fixtures::hold(wallet.id, 800, 10))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        account_at(store, acme.id, wallet.id, at(9))
            .await
            .available(),
        0
    );
    // Past its time it no longer counts, marked or not, and cannot be settled.
    assert_eq!(
        account_at(store, acme.id, wallet.id, at(10))
            .await
            .available(),
        800
    );
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let late = SettleHold {
        hold: third.id,
        at: at(10),
        capture: capture(house.id, None),
    };
    assert_eq!(
        tx.settle_hold(late).await.unwrap(),
        Err(SettleRefusal::Expired)
    );
    let mut later = fixtures::hold(wallet.id, 800, 60);
    later.at = at(11);
    later.expires_at = at(70);
    tx.place_hold(later).await.unwrap().unwrap();
    let expired = tx.ledger_hold(third.id).await.unwrap().unwrap();
    assert_eq!(expired.status, HoldStatus::Expired);
    assert_eq!(expired.status_at(at(11)), HoldStatus::Expired);
    tx.commit().await.unwrap();
    let read = account_at(store, acme.id, wallet.id, at(12)).await;
    assert_eq!((read.balance, read.held), (800, 800));
    assert_books_balance(store, acme.id).await;
}

pub async fn limit_caps_hold_per_transfer_day_and_month(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let (house, wallet) = house_and_wallet(store, acme.id, 10_000).await;
    let caps = Caps {
        single: Some(100),
        daily: Some(250),
        monthly: Some(400),
    };
    let day = time::Duration::days(1);
    // (minutes after t0, amount, refused by)
    let steps: [(time::OffsetDateTime, i64, Option<Limit>); 9] = [
        (t0(), 101, Some(Limit::Single)),
        (t0(), 100, None),
        (t0(), 100, None),
        (t0(), 60, Some(Limit::Daily)),
        (t0(), 50, None),
        (t0() + day, 100, None),
        (t0() + day, 60, Some(Limit::Monthly)),
        (t0() + day, 50, None),
        (t0() + 30 * day, 100, None),
    ];
    for (when, amount, refused) in steps {
        let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
        let mut transfer = fixtures::transfer(wallet.id, house.id, amount);
        transfer.at = when;
        transfer.caps = caps;
        let outcome = tx.post_transfer(transfer).await.unwrap();
        match refused {
            Some(limit) => assert_eq!(outcome, Err(TransferRefusal::LimitExceeded(limit))),
            None => assert!(outcome.is_ok(), "{when} {amount}: {outcome:?}"),
        }
        tx.commit().await.unwrap();
    }
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let mut hold = fixtures::hold(wallet.id, 101, 60);
    hold.single_cap = Some(100);
    assert_eq!(
        tx.place_hold(hold).await.unwrap(),
        Err(HoldRefusal::LimitExceeded(Limit::Single))
    );
    drop(tx);
    let read = account_at(store, acme.id, wallet.id, t0() + 30 * day).await;
    assert_eq!(read.balance, 10_000 - 500);
    // The balance as of a time: after the newest posting made by then.
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    for (when, expected) in [
        (t0() - time::Duration::minutes(1), (0, 0)),
        (t0(), (4, 9_750)),
        (t0() + day / 2, (4, 9_750)),
        (t0() + day, (6, 9_600)),
        (t0() + 40 * day, (7, 9_500)),
    ] {
        assert_eq!(
            tx.ledger_balance_at(wallet.id, when).await.unwrap(),
            expected,
            "{when}"
        );
    }
    drop(tx);
    assert_books_balance(store, acme.id).await;
}

pub async fn limit_profiles_are_stored_and_replaced(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let gold = LimitProfileRow {
        name: "gold".into(),
        single: Some("5000".into()),
        daily: Some("10000.50".into()),
        monthly: None,
        updated_at: t0(),
    };
    tx.put_limit_profile(gold.clone()).await.unwrap();
    tx.put_limit_profile(fixtures::limit_profile("agents", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let names: Vec<String> = tx
        .limit_profiles()
        .await
        .unwrap()
        .into_iter()
        .map(|profile| profile.name)
        .collect();
    assert_eq!(names, ["agents", "gold"]);
    assert_eq!(tx.limit_profile("gold").await.unwrap(), Some(gold.clone()));
    let changed = LimitProfileRow {
        single: None,
        monthly: Some("1".into()),
        updated_at: at(5),
        ..gold
    };
    tx.put_limit_profile(changed.clone()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(tx.limit_profile("gold").await.unwrap(), Some(changed));
    assert!(tx.limit_profile("silver").await.unwrap().is_none());
}

pub async fn charges_debit_the_marked_up_cost_to_the_house(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let (house, wallet) = house_and_wallet(store, acme.id, 1_000).await;
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let mut unlimited = fixtures::ledger_account("agent", "USD", None, false);
    unlimited.unlimited = true;
    let unlimited = tx.insert_ledger_account(unlimited).await.unwrap();

    // A cost of 3 at markup 1.5 debits 5 (the service rounds; the store
    // records what it is given).
    let mut marked_up = fixtures::charge(wallet.id, house.id, 3);
    marked_up.markup_millionths = 1_500_000;
    marked_up.amount = 5;
    let charged = tx.record_charge(marked_up.clone()).await.unwrap().unwrap();
    assert_eq!(
        (
            charged.id,
            charged.account_id,
            charged.cost,
            charged.markup_millionths,
            charged.amount,
            charged.transfer_id,
            charged.memo.as_deref(),
            charged.created_at
        ),
        (
            marked_up.id,
            wallet.id,
            3,
            1_500_000,
            5,
            Some(marked_up.transfer),
            marked_up.memo.as_deref(),
            t0()
        )
    );
    // An unlimited account is recorded, not debited; so is an amount that
    // rounded to nothing.
    let recorded = tx
        .record_charge(fixtures::charge(unlimited.id, house.id, 250))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((recorded.amount, recorded.transfer_id), (250, None));
    let mut nothing = fixtures::charge(wallet.id, house.id, 1);
    nothing.markup_millionths = 400_000;
    nothing.amount = 0;
    let nothing = tx.record_charge(nothing).await.unwrap().unwrap();
    assert_eq!(nothing.transfer_id, None);
    tx.commit().await.unwrap();

    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.ledger_charge(charged.id).await.unwrap().as_ref(),
        Some(&charged)
    );
    assert_eq!(
        tx.ledger_charge(recorded.id).await.unwrap().as_ref(),
        Some(&recorded)
    );
    assert_eq!(
        tx.ledger_charges(wallet.id, 10).await.unwrap(),
        vec![nothing.clone(), charged.clone()]
    );
    assert_eq!(
        tx.ledger_charges(wallet.id, 1).await.unwrap(),
        vec![nothing]
    );
    assert_eq!(
        tx.ledger_charges(unlimited.id, 10).await.unwrap(),
        vec![recorded]
    );
    let wallet = tx.ledger_account(wallet.id, t0()).await.unwrap().unwrap();
    let house = tx.ledger_account(house.id, t0()).await.unwrap().unwrap();
    let unlimited = tx
        .ledger_account(unlimited.id, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (wallet.balance, house.balance, unlimited.balance),
        (995, -995, 0)
    );
    assert_eq!(unlimited.last_posting, 0);
    drop(tx);
    let newest = postings(store, acme.id, wallet.id).await.remove(0);
    assert_eq!(
        (
            newest.transfer_id,
            newest.kind,
            newest.counterparty,
            newest.amount
        ),
        (marked_up.transfer, TransferKind::Charge, house.id, -5)
    );
    assert_eq!(newest.memo, marked_up.memo);
    assert_books_balance(store, acme.id).await;
}

pub async fn a_refused_charge_writes_nothing(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let (house, wallet) = house_and_wallet(store, acme.id, 100).await;
    let before = accounts(store, acme.id).await;
    let capped = |amount, caps| {
        let mut charge = fixtures::charge(wallet.id, house.id, amount);
        charge.caps = caps;
        charge
    };
    let single = Caps {
        single: Some(10),
        ..Caps::NONE
    };
    let daily = Caps {
        daily: Some(10),
        ..Caps::NONE
    };
    let refused = [
        (capped(101, Caps::NONE), TransferRefusal::InsufficientFunds),
        (
            capped(11, single),
            TransferRefusal::LimitExceeded(Limit::Single),
        ),
        (
            capped(11, daily),
            TransferRefusal::LimitExceeded(Limit::Daily),
        ),
        (
            fixtures::charge(LedgerAccountId::new(), house.id, 1),
            TransferRefusal::FromNotFound,
        ),
        (
            fixtures::charge(wallet.id, LedgerAccountId::new(), 1),
            TransferRefusal::ToNotFound,
        ),
    ];
    for (charge, refusal) in refused {
        let id = charge.id;
        let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
        assert_eq!(
            tx.record_charge(charge.clone()).await.unwrap(),
            Err(refusal),
            "{charge:?}"
        );
        tx.commit().await.unwrap();
        let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
        assert_eq!(tx.ledger_charge(id).await.unwrap(), None);
    }
    assert_eq!(accounts(store, acme.id).await, before);
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert!(tx.ledger_charges(wallet.id, 10).await.unwrap().is_empty());
    drop(tx);

    // Within the cap the same charge passes, and counts towards the day.
    let mut tx = store.tenant(acme.id, Access::Write).await.unwrap();
    let charged = tx.record_charge(capped(10, daily)).await.unwrap();
    assert!(charged.is_ok(), "{charged:?}");
    assert_eq!(
        tx.record_charge(capped(1, daily)).await.unwrap(),
        Err(TransferRefusal::LimitExceeded(Limit::Daily))
    );
    tx.commit().await.unwrap();
    let wallet = account_at(store, acme.id, wallet.id, t0()).await;
    assert_eq!(wallet.balance, 90);
    assert_books_balance(store, acme.id).await;
}

pub async fn the_charge_markup_is_the_tenants_and_set_by_the_platform(ts: &TestStore) {
    let store = &*ts.store;
    let owner = fixtures::user(store, "owner@example.com").await;
    let acme = fixtures::tenant(store, "acme", &owner).await;
    let globex = fixtures::tenant(store, "globex", &owner).await;
    assert_eq!(
        acme.charge_markup, None,
        "the plan's applies until one is set"
    );
    let five = Markup::parse("5").unwrap();
    let mut tx = store.platform(Access::Write).await.unwrap();
    assert!(tx.set_charge_markup(acme.id, five, at(1)).await.unwrap());
    assert!(
        !tx.set_charge_markup(TenantId::new(), five, at(1))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut tx = store.platform(Access::Read).await.unwrap();
    let read = tx.tenant_by_id(acme.id).await.unwrap().unwrap();
    assert_eq!((read.charge_markup, read.updated_at), (Some(five), at(1)));
    let other = tx.tenant_by_id(globex.id).await.unwrap().unwrap();
    assert_eq!(other.charge_markup, None);
    drop(tx);
    // The tenant reads its own markup from its row.
    let mut tx = store.tenant(acme.id, Access::Read).await.unwrap();
    assert_eq!(
        tx.tenant().await.unwrap().unwrap().charge_markup,
        Some(five)
    );
}

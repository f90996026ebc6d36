//! The ledger end to end, on both backends (API.md "Ledger", RELIABILITY
//! E): a walk-through of accounts, transfers, postings and their audit
//! entries; every validation and refusal, none of which moves money; who
//! sees and moves what inside a tenant and across tenants; `Idempotency-Key`
//! replays, including sixteen racing ones; and 64 concurrent clients moving
//! money at random between 100 accounts, after which the books balance,
//! no account is below zero and every transfer happened exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use bulkhead_client::types::{
    AccountView, AuditQuery, BalanceQuery, CreateAccountRequest, CreateApiKeyRequest,
    CreateTransferRequest, PageQuery, PostingView, Role, TransferView,
};
use bulkhead_client::{Client, Method, RawResponse};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::harness::{Account, TestServer, expect_problem, is_in_flight, request};
use crate::records_common::field_codes;

/// How many transfers with one idempotency key race each other.
const RACERS: usize = 16;

/// The random transfers: accounts, clients, transfers per client, and the
/// seed (printed on failure).
const N_WALLETS: usize = 100;
const N_CLIENTS: usize = 64;
const TRANSFERS_PER_CLIENT: usize = 10;
const SEED: u64 = 0x1ed9_e25e;

/// How many transfers go back and forth between the hot pair at once.
const HOT_TRANSFERS: usize = 32;

pub(crate) fn accounts_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/accounts")
}

fn account_path(t: &str, id: Uuid) -> String {
    format!("/v1/tenants/{t}/ledger/accounts/{id}")
}

fn entries_path(t: &str, id: Uuid) -> String {
    format!("/v1/tenants/{t}/ledger/accounts/{id}/entries")
}

pub(crate) fn transfers_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/transfers")
}

/// An account in US dollars (scale 2).
pub(crate) fn usd(name: &str, owner: Option<Uuid>, allow_negative: bool) -> CreateAccountRequest {
    CreateAccountRequest {
        name: name.to_owned(),
        currency: "USD".to_owned(),
        scale: 2,
        owner_id: owner,
        allow_negative,
        unlimited: false,
        limit_profile: None,
    }
}

pub(crate) async fn open(client: &Client, t: &str, account: &CreateAccountRequest) -> AccountView {
    client
        .open_ledger_account(t, account)
        .await
        .unwrap_or_else(|error| panic!("opening {account:?}: {error}"))
}

fn transfer_body(from: Uuid, to: Uuid, amount: &str) -> Value {
    json!({"from": from, "to": to, "amount": amount})
}

/// `POST path` with `body`, and with `Idempotency-Key: key` unless `key`
/// is `None`: the shape of every request that moves or reserves money.
pub(crate) async fn post_with_key(
    client: &Client,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> RawResponse {
    let client = match key {
        Some(key) => client.with_header("idempotency-key", key),
        None => client.clone(),
    };
    request(&client, Method::POST, path, Some(body.clone())).await
}

/// `POST …/ledger/transfers` with `body`, and with `Idempotency-Key: key`
/// unless `key` is `None`.
async fn post_transfer(client: &Client, t: &str, key: Option<&str>, body: &Value) -> RawResponse {
    post_with_key(client, &transfers_path(t), key, body).await
}

/// A transfer that must succeed, made through the typed client.
pub(crate) async fn transfer(
    client: &Client,
    t: &str,
    key: &str,
    from: Uuid,
    to: Uuid,
    amount: &str,
    memo: Option<&str>,
) -> TransferView {
    let body = CreateTransferRequest {
        from,
        to,
        amount: amount.to_owned(),
        memo: memo.map(str::to_owned),
    };
    client
        .create_transfer(t, key, &body)
        .await
        .unwrap_or_else(|error| panic!("transfer {key} of {amount}: {error}"))
}

pub(crate) async fn account(client: &Client, t: &str, id: Uuid) -> AccountView {
    client
        .get_ledger_account(t, id)
        .await
        .unwrap_or_else(|error| panic!("reading account {id}: {error}"))
}

/// Every account `client` may see, following the cursor.
pub(crate) async fn all_accounts(client: &Client, t: &str) -> Vec<AccountView> {
    let mut accounts = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_ledger_accounts(
                t,
                &PageQuery {
                    limit: Some(100),
                    cursor,
                },
            )
            .await
            .unwrap();
        accounts.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return accounts,
        }
    }
}

/// Every posting of an account, newest first, following the cursor.
pub(crate) async fn all_entries(client: &Client, t: &str, id: Uuid) -> Vec<PostingView> {
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .ledger_entries(
                t,
                id,
                &PageQuery {
                    limit: Some(100),
                    cursor,
                },
            )
            .await
            .unwrap();
        entries.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return entries,
        }
    }
}

/// Every account `client` may see with its postings (newest first).
pub(crate) async fn books(client: &Client, t: &str) -> Vec<(AccountView, Vec<PostingView>)> {
    let mut books = Vec::new();
    for account in all_accounts(client, t).await {
        let entries = all_entries(client, t, account.id).await;
        books.push((account, entries));
    }
    books
}

/// An amount at scale 2 in cents: `"-12.50"` is -1250. Anything but
/// exactly two fractional digits fails, since the server formats every
/// amount at its account's scale.
#[track_caller]
pub(crate) fn cents(text: &str) -> i64 {
    let (integer, fraction) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("{text:?} is not at scale 2"));
    assert_eq!(fraction.len(), 2, "{text:?} is not at scale 2");
    let negative = integer.starts_with('-');
    let magnitude = integer.trim_start_matches('-').parse::<i64>().unwrap() * 100
        + fraction.parse::<i64>().unwrap();
    if negative { -magnitude } else { magnitude }
}

/// An amount in cents as the server writes it at scale 2.
pub(crate) fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        cents.unsigned_abs() / 100,
        cents.unsigned_abs() % 100
    )
}

/// Asserts that an account's postings (newest first) are numbered 1, 2, …
/// without a gap, that each balance follows from the one before, and that
/// they add up to the account's balance.
#[track_caller]
pub(crate) fn assert_consistent(account: &AccountView, entries: &[PostingView]) {
    let mut balance = 0;
    for (i, posting) in entries.iter().rev().enumerate() {
        assert_eq!(
            posting.seq,
            i64::try_from(i + 1).unwrap(),
            "{}: postings out of order or with a gap: {entries:#?}",
            account.name
        );
        balance += cents(&posting.amount);
        assert_eq!(
            cents(&posting.balance_after),
            balance,
            "{}: posting {} does not follow from the one before",
            account.name,
            posting.seq
        );
    }
    assert_eq!(
        cents(&account.balance),
        balance,
        "{}: the balance is not the sum of its postings",
        account.name
    );
}

/// `n` wallets (which may not go negative) opened at once and each funded
/// with `amount` from `house`; their ids, in no particular order.
pub(crate) async fn funded_wallets(
    client: &Client,
    t: &str,
    house: Uuid,
    n: usize,
    amount: &str,
) -> Vec<Uuid> {
    let mut opening = JoinSet::new();
    for i in 0..n {
        let (client, t, amount) = (client.clone(), t.to_owned(), amount.to_owned());
        opening.spawn(async move {
            let wallet = open(&client, &t, &usd(&format!("Wallet {i}"), None, false)).await;
            let key = format!("fund-{i}");
            transfer(&client, &t, &key, house, wallet.id, &amount, None).await;
            wallet.id
        });
    }
    let wallets: Vec<Uuid> = opening.join_all().await;
    assert_eq!(wallets.iter().collect::<BTreeSet<_>>().len(), n);
    wallets
}

/// A tenant with an owner, two members, a manager and a viewer; a house
/// account (which may go negative) and a wallet for each member, in USD.
pub(crate) struct Bank {
    pub(crate) t: String,
    pub(crate) owner: Account,
    pub(crate) member1: Account,
    pub(crate) member2: Account,
    pub(crate) manager: Account,
    pub(crate) viewer: Account,
    pub(crate) house: AccountView,
    pub(crate) wallet1: AccountView,
    pub(crate) wallet2: AccountView,
}

impl Bank {
    pub(crate) async fn open(server: &TestServer, slug: &str) -> Bank {
        let owner = server.signup(&format!("owner@{slug}.example")).await;
        let tenant = server.create_tenant(&owner, slug).await;
        let t = tenant.slug;
        let mut members = Vec::new();
        for (name, role) in [
            ("member1", Role::Member),
            ("member2", Role::Member),
            ("manager", Role::Manager),
            ("viewer", Role::Viewer),
        ] {
            let email = format!("{name}@{slug}.example");
            members.push(server.add_member(&owner, &t, &email, role).await);
        }
        let [member1, member2, manager, viewer] = <[Account; 4]>::try_from(members).unwrap();
        let house = open(&owner.client, &t, &usd("House", None, true)).await;
        let wallet1 = open(
            &owner.client,
            &t,
            &usd("Wallet one", Some(member1.id()), false),
        )
        .await;
        let wallet2 = open(
            &owner.client,
            &t,
            &usd("Wallet two", Some(member2.id()), false),
        )
        .await;
        Bank {
            t,
            owner,
            member1,
            member2,
            manager,
            viewer,
            house,
            wallet1,
            wallet2,
        }
    }

    /// Every account as the owner sees it, for comparing before and after.
    pub(crate) async fn books(&self) -> Vec<(AccountView, Vec<PostingView>)> {
        books(&self.owner.client, &self.t).await
    }
}

/// Accounts are opened with a zero balance; the owner moves 100.00 from the
/// house to a member's wallet, the member moves 12.50 on to another's; the
/// balances, the postings (newest first, signed, with the balance after,
/// the counterparty and the memo), paging through them one at a time, and
/// the audit entries are exactly as expected.
async fn money_moves_between_accounts_and_every_posting_is_kept(server: TestServer) {
    let bank = Bank::open(&server, "ledger-walk").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;

    assert_eq!(bank.house.balance, "0.00");
    assert_eq!(bank.house.available, "0.00");
    assert!(bank.house.allow_negative);
    assert_eq!(bank.house.owner_id, None);
    let wallet1 = &bank.wallet1;
    assert_eq!(
        (
            wallet1.name.as_str(),
            wallet1.currency.as_str(),
            wallet1.scale
        ),
        ("Wallet one", "USD", 2)
    );
    assert_eq!(wallet1.owner_id, Some(bank.member1.id()));
    assert_eq!(
        (wallet1.balance.as_str(), wallet1.available.as_str()),
        ("0.00", "0.00")
    );
    assert!(!wallet1.allow_negative && !wallet1.unlimited);
    assert_eq!(wallet1.limit_profile, None);
    assert_eq!(&account(owner, t, wallet1.id).await, wallet1);

    let funding = transfer(
        owner,
        t,
        "walk-funding",
        bank.house.id,
        wallet1.id,
        "100.00",
        Some("opening credit"),
    )
    .await;
    assert_eq!(
        (
            funding.kind.as_str(),
            funding.from,
            funding.to,
            funding.amount.as_str(),
            funding.memo.as_deref()
        ),
        (
            "transfer",
            bank.house.id,
            wallet1.id,
            "100.00",
            Some("opening credit")
        )
    );
    let lunch = transfer(
        &bank.member1.client,
        t,
        "walk-lunch",
        wallet1.id,
        bank.wallet2.id,
        "12.5",
        Some("lunch"),
    )
    .await;
    assert_eq!(lunch.amount, "12.50", "amounts are answered at the scale");
    assert_ne!(lunch.id, funding.id);

    for (id, balance) in [
        (bank.house.id, "-100.00"),
        (wallet1.id, "87.50"),
        (bank.wallet2.id, "12.50"),
    ] {
        let read = account(owner, t, id).await;
        assert_eq!(
            (read.balance.as_str(), read.available.as_str()),
            (balance, balance),
            "{}",
            read.name
        );
    }

    // The member's own view of their wallet: newest first.
    let member1 = &bank.member1.client;
    let entries = all_entries(member1, t, wallet1.id).await;
    let summary: Vec<_> = entries
        .iter()
        .map(|p| {
            (
                p.seq,
                p.transfer_id,
                p.kind.as_str(),
                p.counterparty,
                p.amount.as_str(),
                p.balance_after.as_str(),
                p.memo.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                2,
                lunch.id,
                "transfer",
                bank.wallet2.id,
                "-12.50",
                "87.50",
                Some("lunch")
            ),
            (
                1,
                funding.id,
                "transfer",
                bank.house.id,
                "100.00",
                "100.00",
                Some("opening credit")
            ),
        ]
    );
    assert_eq!(entries[0].created_at, lunch.created_at);
    let house_entries = all_entries(owner, t, bank.house.id).await;
    assert_eq!(house_entries.len(), 1);
    assert_eq!(
        (
            house_entries[0].amount.as_str(),
            house_entries[0].balance_after.as_str(),
            house_entries[0].counterparty
        ),
        ("-100.00", "-100.00", wallet1.id)
    );
    let wallet2_entries = all_entries(&bank.member2.client, t, bank.wallet2.id).await;
    assert_eq!(wallet2_entries.len(), 1);
    assert_eq!(
        (
            wallet2_entries[0].amount.as_str(),
            wallet2_entries[0].balance_after.as_str(),
            wallet2_entries[0].counterparty,
            wallet2_entries[0].transfer_id
        ),
        ("12.50", "12.50", wallet1.id, lunch.id)
    );

    // One posting a page: the cursor walks back in time and runs out.
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..4 {
        let page = member1
            .ledger_entries(
                t,
                wallet1.id,
                &PageQuery {
                    limit: Some(1),
                    cursor: cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(page.items.iter().map(|p| p.seq));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, [2, 1]);
    assert_eq!(cursor, None, "paging did not end");
    let bad_cursor = request(
        member1,
        Method::GET,
        &format!("{}?cursor=not-a-number", entries_path(t, wallet1.id)),
        None,
    )
    .await;
    assert_eq!(bad_cursor.status, 400, "{}", bad_cursor.text());

    // The balance as of a time: now, after both postings; at each
    // posting's time, after it (or a later one made in the same
    // microsecond); before the first, zero.
    let balance_at = |at: Option<time::OffsetDateTime>| async move {
        member1
            .ledger_balance_at(t, wallet1.id, &BalanceQuery { at })
            .await
            .unwrap()
    };
    let now = balance_at(None).await;
    assert_eq!((now.balance.as_str(), now.seq), ("87.50", 2));
    let first = entries.last().unwrap();
    let at_first = balance_at(Some(first.created_at)).await;
    assert!(at_first.seq >= 1, "{at_first:?}");
    let before = balance_at(Some(first.created_at - time::Duration::seconds(1))).await;
    assert_eq!((before.balance.as_str(), before.seq), ("0.00", 0));
    let hidden = bank
        .member2
        .client
        .ledger_balance_at(t, wallet1.id, &BalanceQuery::default())
        .await
        .unwrap_err();
    assert_eq!(
        hidden.problem().map(|p| p.code.as_str()),
        Some("account_not_found")
    );

    // The accounts list, oldest first.
    let listed: Vec<Uuid> = all_accounts(owner, t).await.iter().map(|a| a.id).collect();
    assert_eq!(listed, [bank.house.id, wallet1.id, bank.wallet2.id]);

    // Both transfers and the three openings are in the audit log.
    let audit = |action: &str| {
        let query = AuditQuery {
            action: Some(action.to_owned()),
            limit: Some(100),
            ..AuditQuery::default()
        };
        async move { owner.list_audit(t, &query).await.unwrap().items }
    };
    let transfers = audit("ledger.transfer").await;
    let logged: BTreeMap<Option<String>, _> = transfers
        .iter()
        .map(|e| {
            (
                e.resource_id.clone(),
                (
                    e.resource_type.as_str(),
                    e.outcome.as_str(),
                    e.actor.id,
                    e.details["amount"].clone(),
                    e.details["from"].clone(),
                    e.details["to"].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(
        logged,
        BTreeMap::from([
            (
                Some(funding.id.to_string()),
                (
                    "transfer",
                    "success",
                    Some(bank.owner.id()),
                    json!("100.00"),
                    json!(bank.house.id.to_string()),
                    json!(wallet1.id.to_string())
                )
            ),
            (
                Some(lunch.id.to_string()),
                (
                    "transfer",
                    "success",
                    Some(bank.member1.id()),
                    json!("12.50"),
                    json!(wallet1.id.to_string()),
                    json!(bank.wallet2.id.to_string())
                )
            ),
        ]),
        "{transfers:#?}"
    );
    let openings = audit("ledger.account.open").await;
    let opened: BTreeSet<Option<String>> = openings.iter().map(|e| e.resource_id.clone()).collect();
    assert_eq!(
        opened,
        [bank.house.id, wallet1.id, bank.wallet2.id]
            .iter()
            .map(|id| Some(id.to_string()))
            .collect()
    );
    assert!(
        openings
            .iter()
            .all(|e| e.resource_type == "ledger_account" && e.actor.id == Some(bank.owner.id()))
    );
}
scenario!(money_moves_between_accounts_and_every_posting_is_kept);

/// Every malformed amount, missing key, unknown account and refused
/// transfer is answered with its code, and none of them changes a balance
/// or adds a posting; so are bad account openings.
async fn refused_transfers_change_nothing(server: TestServer) {
    let bank = Bank::open(&server, "ledger-refusals").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;
    let member1 = &bank.member1.client;
    let (house, wallet1, wallet2) = (bank.house.id, bank.wallet1.id, bank.wallet2.id);
    transfer(owner, t, "fund-1", house, wallet1, "50.00", None).await;
    let euros = open(
        owner,
        t,
        &CreateAccountRequest {
            currency: "EUR".to_owned(),
            ..usd("Euros", Some(bank.member2.id()), false)
        },
    )
    .await;
    let mills = open(
        owner,
        t,
        &CreateAccountRequest {
            scale: 3,
            ..usd("Mills", Some(bank.member2.id()), false)
        },
    )
    .await;
    // Two house accounts near the ends of what a balance can hold.
    let deep = open(owner, t, &usd("Deep house", None, true)).await;
    let full = open(owner, t, &usd("Full", None, false)).await;
    let max = "92233720368547758.07";
    transfer(owner, t, "fill-up", deep.id, full.id, max, None).await;
    assert_eq!(account(owner, t, full.id).await.balance, max);
    assert_eq!(account(owner, t, deep.id).await.balance, format!("-{max}"));
    let before = bank.books().await;

    // No key, an empty key.
    let body = transfer_body(wallet1, wallet2, "1.00");
    let keyless = post_transfer(member1, t, None, &body).await;
    expect_problem(&keyless, 400, "idempotency_key_required");
    let empty = post_transfer(member1, t, Some(""), &body).await;
    assert_eq!(empty.status, 400, "{}", empty.text());

    // Amounts: more digits than the scale, beyond what fits, zero, below
    // zero, not a number.
    for (amount, code) in [
        ("1.234", "invalid_amount"),
        ("1.000", "invalid_amount"),
        ("92233720368547758.08", "amount_out_of_range"),
        ("99999999999999999999", "amount_out_of_range"),
        ("0", "invalid_amount"),
        ("0.00", "invalid_amount"),
        ("-0.01", "invalid_amount"),
        ("-5", "invalid_amount"),
        ("", "invalid_amount"),
        ("1e3", "invalid_amount"),
        (" 1.00", "invalid_amount"),
        ("1,00", "invalid_amount"),
    ] {
        let key = format!("amount-{amount}");
        let answer = post_transfer(
            member1,
            t,
            Some(&key),
            &transfer_body(wallet1, wallet2, amount),
        )
        .await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            BTreeMap::from([("amount".to_owned(), code.to_owned())]),
            "{amount:?}: {}",
            answer.text()
        );
    }
    // At scale 3 a third digit is fine, a fourth is not.
    let answer = post_transfer(
        owner,
        t,
        Some("mills-4"),
        &transfer_body(mills.id, house, "0.0001"),
    )
    .await;
    let problem = expect_problem(&answer, 422, "validation_failed");
    assert_eq!(field_codes(&problem)["amount"], "invalid_amount");

    // Refusals.
    let memo = json!({"from": wallet1, "to": wallet2, "amount": "1.00", "memo": "m".repeat(501)});
    let refusals: [(&str, &Client, Value, u16, &str); 10] = [
        (
            "over",
            member1,
            transfer_body(wallet1, wallet2, "50.01"),
            422,
            "insufficient_funds",
        ),
        (
            "euros",
            member1,
            transfer_body(wallet1, euros.id, "1.00"),
            422,
            "currency_mismatch",
        ),
        (
            "mills",
            member1,
            transfer_body(wallet1, mills.id, "1.00"),
            422,
            "currency_mismatch",
        ),
        (
            "same",
            member1,
            transfer_body(wallet1, wallet1, "1.00"),
            422,
            "same_account",
        ),
        (
            "overflow-to",
            owner,
            transfer_body(house, full.id, "0.01"),
            422,
            "balance_overflow",
        ),
        (
            "overflow-from",
            owner,
            transfer_body(deep.id, house, "0.02"),
            422,
            "balance_overflow",
        ),
        (
            "no-source",
            member1,
            transfer_body(Uuid::now_v7(), wallet2, "1.00"),
            404,
            "account_not_found",
        ),
        (
            "unseen-source",
            member1,
            transfer_body(wallet2, wallet1, "1.00"),
            404,
            "account_not_found",
        ),
        (
            "no-target",
            member1,
            transfer_body(wallet1, Uuid::now_v7(), "1.00"),
            422,
            "validation_failed",
        ),
        ("long-memo", member1, memo, 422, "validation_failed"),
    ];
    for (key, client, body, status, code) in refusals {
        let answer = post_transfer(client, t, Some(key), &body).await;
        let problem = expect_problem(&answer, status, code);
        match key {
            "no-target" => assert_eq!(
                field_codes(&problem),
                BTreeMap::from([("to".to_owned(), "not_found".to_owned())])
            ),
            "long-memo" => assert_eq!(
                field_codes(&problem),
                BTreeMap::from([("memo".to_owned(), "invalid_memo".to_owned())])
            ),
            _ => {}
        }
        // The same request again is refused the same way.
        let again = post_transfer(client, t, Some(key), &body).await;
        expect_problem(&again, status, code);
    }
    // A body that is not a transfer at all.
    for body in [
        json!({"from": wallet1, "to": wallet2, "amount": 1}),
        json!({"from": wallet1, "to": wallet2}),
        json!({"from": "nope", "to": wallet2, "amount": "1.00"}),
        json!({"from": wallet1, "to": wallet2, "amount": "1.00", "fee": "0.10"}),
    ] {
        let answer = post_transfer(member1, t, Some("shapeless"), &body).await;
        assert!(
            matches!(answer.status, 400 | 422),
            "{body}: {} {}",
            answer.status,
            answer.text()
        );
    }
    // Bad openings, and openings by those who may not.
    let stranger = server.signup("stranger@ledger-refusals.example").await;
    for (body, field, code) in [
        (
            json!({"name": " ", "currency": "USD", "scale": 2}),
            "name",
            "invalid_name",
        ),
        (
            json!({"name": "n".repeat(101), "currency": "USD", "scale": 2}),
            "name",
            "invalid_name",
        ),
        (
            json!({"name": "x", "currency": "usd", "scale": 2}),
            "currency",
            "invalid_currency",
        ),
        (
            json!({"name": "x", "currency": "1USD", "scale": 2}),
            "currency",
            "invalid_currency",
        ),
        (
            json!({"name": "x", "currency": "USD", "scale": 19}),
            "scale",
            "invalid_scale",
        ),
        (
            json!({"name": "x", "currency": "USD", "scale": 2, "owner_id": stranger.id()}),
            "owner_id",
            "not_found",
        ),
    ] {
        let answer = request(owner, Method::POST, &accounts_path(t), Some(body.clone())).await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem).get(field).map(String::as_str),
            Some(code),
            "{body}: {}",
            answer.text()
        );
    }
    let valid = json!({"name": "Mine", "currency": "USD", "scale": 2});
    for who in [&bank.member1, &bank.manager, &bank.viewer] {
        let answer = who
            .send(Method::POST, &accounts_path(t), Some(valid.clone()))
            .await;
        expect_problem(&answer, 403, "forbidden");
    }

    assert!(
        bank.books().await == before,
        "a refused request changed the books"
    );

    // The whole balance may leave; then nothing more.
    transfer(member1, t, "all-of-it", wallet1, wallet2, "50.00", None).await;
    let emptied = account(member1, t, wallet1).await;
    assert_eq!(
        (emptied.balance.as_str(), emptied.available.as_str()),
        ("0.00", "0.00")
    );
    let answer = post_transfer(
        member1,
        t,
        Some("one-more-cent"),
        &transfer_body(wallet1, wallet2, "0.01"),
    )
    .await;
    expect_problem(&answer, 422, "insufficient_funds");
}
scenario!(refused_transfers_change_nothing);

/// Inside a tenant, members see and move only their own accounts, managers
/// see all and move none, viewers move nothing, admins move any; an account
/// one may not see is 404 like one that does not exist. Across tenants, B's
/// accounts are not found through A's path and are no destination.
async fn accounts_are_seen_and_moved_by_whom_they_should(server: TestServer) {
    let bank = Bank::open(&server, "ledger-roles").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;
    let (house, wallet1, wallet2) = (bank.house.id, bank.wallet1.id, bank.wallet2.id);
    let admin = server
        .add_member(&bank.owner, t, "admin@ledger-roles.example", Role::Admin)
        .await;
    let viewers = open(owner, t, &usd("Viewer's", Some(bank.viewer.id()), false)).await;
    transfer(owner, t, "fund-1", house, wallet1, "40.00", None).await;
    transfer(owner, t, "fund-2", house, wallet2, "40.00", None).await;
    transfer(owner, t, "fund-v", house, viewers.id, "40.00", None).await;
    let member_key = owner
        .create_api_key(
            t,
            &CreateApiKeyRequest {
                name: "member key".to_owned(),
                role: Role::Member,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let member_key = server.anon.with_token(&member_key.key);

    // Who sees what in the list.
    let everything = BTreeSet::from([house, wallet1, wallet2, viewers.id]);
    let listed = |client: Client| async move {
        all_accounts(&client, t)
            .await
            .iter()
            .map(|a| a.id)
            .collect::<BTreeSet<Uuid>>()
    };
    assert_eq!(
        listed(bank.member1.client.clone()).await,
        BTreeSet::from([wallet1])
    );
    assert_eq!(
        listed(bank.member2.client.clone()).await,
        BTreeSet::from([wallet2])
    );
    assert_eq!(
        listed(bank.viewer.client.clone()).await,
        BTreeSet::from([viewers.id])
    );
    assert_eq!(
        listed(member_key.clone()).await,
        BTreeSet::new(),
        "a key owns nothing"
    );
    for who in [&bank.manager, &admin, &bank.owner] {
        assert_eq!(
            listed(who.client.clone()).await,
            everything,
            "{}",
            who.email
        );
    }

    // Reading one account and its entries.
    let never = Uuid::now_v7();
    let readers: [(&str, &Client, &[Uuid]); 5] = [
        ("member1", &bank.member1.client, &[wallet1]),
        ("member2", &bank.member2.client, &[wallet2]),
        ("viewer", &bank.viewer.client, &[viewers.id]),
        ("member key", &member_key, &[]),
        (
            "manager",
            &bank.manager.client,
            &[house, wallet1, wallet2, viewers.id],
        ),
    ];
    for (who, client, visible) in readers {
        for id in everything.iter().copied().chain([never]) {
            for path in [account_path(t, id), entries_path(t, id)] {
                let answer = request(client, Method::GET, &path, None).await;
                if visible.contains(&id) {
                    assert_eq!(answer.status, 200, "{who}: {path}: {}", answer.text());
                } else {
                    expect_problem(&answer, 404, "account_not_found");
                    // The same answer as for an account that never was.
                    let missing = if path.ends_with("/entries") {
                        entries_path(t, never)
                    } else {
                        account_path(t, never)
                    };
                    let never_answer = request(client, Method::GET, &missing, None).await;
                    assert_eq!(answer.text(), never_answer.text(), "{who}: {path}");
                }
            }
        }
    }

    // Moving money out: one's own (member), anyone's (admin), nobody's
    // (manager, viewer).
    let before = bank.books().await;
    let attempts: [(&str, &Client, Uuid, u16, &str); 7] = [
        (
            "member1 from member2's",
            &bank.member1.client,
            wallet2,
            404,
            "account_not_found",
        ),
        (
            "member1 from the house",
            &bank.member1.client,
            house,
            404,
            "account_not_found",
        ),
        (
            "member key from member1's",
            &member_key,
            wallet1,
            404,
            "account_not_found",
        ),
        (
            "manager from member1's",
            &bank.manager.client,
            wallet1,
            403,
            "forbidden",
        ),
        (
            "manager from the house",
            &bank.manager.client,
            house,
            403,
            "forbidden",
        ),
        (
            "viewer from their own",
            &bank.viewer.client,
            viewers.id,
            403,
            "forbidden",
        ),
        (
            "viewer from member1's",
            &bank.viewer.client,
            wallet1,
            403,
            "forbidden",
        ),
    ];
    for (i, (who, client, from, status, code)) in attempts.into_iter().enumerate() {
        let to = if from == wallet1 { wallet2 } else { wallet1 };
        let answer = post_transfer(
            client,
            t,
            Some(&format!("attempt-{i}")),
            &transfer_body(from, to, "1.00"),
        )
        .await;
        assert_eq!(answer.status, status, "{who}: {}", answer.text());
        expect_problem(&answer, status, code);
    }
    assert!(
        bank.books().await == before,
        "a refused transfer moved money"
    );
    let denied = owner
        .list_audit(
            t,
            &AuditQuery {
                actor: Some(bank.manager.id().to_string()),
                limit: Some(100),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        denied
            .items
            .iter()
            .any(|e| e.action == "ledger.transfer" && e.outcome == "denied"),
        "the manager's refused transfers are not in the log: {denied:#?}"
    );

    // A member moves money out of their own account to one they cannot
    // see; an admin out of anyone's.
    transfer(
        &bank.member1.client,
        t,
        "own",
        wallet1,
        viewers.id,
        "1.00",
        None,
    )
    .await;
    // Out of someone else's account it is an adjustment: it needs a reason.
    let unexplained = post_transfer(
        &admin.client,
        t,
        Some("admin-silent"),
        &transfer_body(wallet2, house, "2.00"),
    )
    .await;
    let problem = expect_problem(&unexplained, 422, "validation_failed");
    assert_eq!(field_codes(&problem)["memo"], "reason_required");
    transfer(
        &admin.client,
        t,
        "admin",
        wallet2,
        house,
        "2.00",
        Some("refund of a double charge"),
    )
    .await;
    assert_eq!(account(owner, t, wallet1).await.balance, "39.00");
    assert_eq!(account(owner, t, wallet2).await.balance, "38.00");
    assert_eq!(account(owner, t, viewers.id).await.balance, "41.00");

    // Another tenant, with accounts of its own.
    let b_owner = server.signup("owner@ledger-bravo.example").await;
    let b = server.create_tenant(&b_owner, "ledger-bravo").await;
    let b_house = open(&b_owner.client, &b.slug, &usd("B house", None, true)).await;
    let b_wallet = open(
        &b_owner.client,
        &b.slug,
        &usd("B wallet", Some(b_owner.id()), false),
    )
    .await;
    transfer(
        &b_owner.client,
        &b.slug,
        "fund-b",
        b_house.id,
        b_wallet.id,
        "10.00",
        None,
    )
    .await;
    let b_before = b_owner
        .client
        .list_ledger_accounts(&b.slug, &PageQuery::default())
        .await
        .unwrap();
    for b_id in [b_house.id, b_wallet.id] {
        // Through A's own path, as an id that never was.
        for (path, never_path) in [
            (account_path(t, b_id), account_path(t, never)),
            (entries_path(t, b_id), entries_path(t, never)),
        ] {
            let answer = request(owner, Method::GET, &path, None).await;
            expect_problem(&answer, 404, "account_not_found");
            let never_answer = request(owner, Method::GET, &never_path, None).await;
            assert_eq!(answer.text(), never_answer.text(), "{path}");
        }
        // Through B's path: B does not exist for A's owner.
        let answer = request(owner, Method::GET, &account_path(&b.slug, b_id), None).await;
        expect_problem(&answer, 404, "tenant_not_found");
        // As the source and as the destination of A's transfers.
        let answer = post_transfer(
            owner,
            t,
            Some(&format!("from-b-{b_id}")),
            &transfer_body(b_id, wallet1, "1.00"),
        )
        .await;
        expect_problem(&answer, 404, "account_not_found");
        let answer = post_transfer(
            owner,
            t,
            Some(&format!("to-b-{b_id}")),
            &transfer_body(house, b_id, "1.00"),
        )
        .await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            BTreeMap::from([("to".to_owned(), "not_found".to_owned())])
        );
        let answer = post_transfer(
            owner,
            &b.slug,
            Some(&format!("in-b-{b_id}")),
            &transfer_body(b_id, b_house.id, "1.00"),
        )
        .await;
        expect_problem(&answer, 404, "tenant_not_found");
    }
    // B's owner cannot reach A's accounts either, and sees only B's.
    let answer = request(
        &b_owner.client,
        Method::GET,
        &account_path(&b.slug, wallet1),
        None,
    )
    .await;
    expect_problem(&answer, 404, "account_not_found");
    let b_after = b_owner
        .client
        .list_ledger_accounts(&b.slug, &PageQuery::default())
        .await
        .unwrap();
    assert_eq!(b_after, b_before, "tenant B's accounts changed");
    let b_ids: BTreeSet<Uuid> = b_after.items.iter().map(|a| a.id).collect();
    assert_eq!(b_ids, BTreeSet::from([b_house.id, b_wallet.id]));
    assert_eq!(
        listed(bank.owner.client.clone()).await,
        everything,
        "tenant A's accounts changed"
    );
}
scenario!(accounts_are_seen_and_moved_by_whom_they_should);

/// A replay with the same key and body answers the first transfer again
/// and moves nothing more, but only to a caller who may make it; the same
/// key with another body is 422; sixteen
/// identical requests at once make exactly one transfer and all carry its id.
async fn a_transfer_happens_once_per_idempotency_key(server: TestServer) {
    let bank = Bank::open(&server, "ledger-once").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;
    let member1 = &bank.member1.client;
    let (house, wallet1, wallet2) = (bank.house.id, bank.wallet1.id, bank.wallet2.id);
    transfer(owner, t, "fund", house, wallet1, "100.00", None).await;

    let body = json!({"from": wallet1, "to": wallet2, "amount": "10.00", "memo": "rent"});
    let first = post_transfer(member1, t, Some("rent-march"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first_body: Value = first.json().unwrap();
    for _ in 0..3 {
        let replay = post_transfer(member1, t, Some("rent-march"), &body).await;
        assert_eq!(replay.status, 201, "{}", replay.text());
        assert_eq!(replay.json::<Value>().unwrap(), first_body);
    }
    assert_eq!(account(member1, t, wallet1).await.balance, "90.00");
    assert_eq!(all_entries(member1, t, wallet1).await.len(), 2);

    // Keys are the tenant's, but a replay answers only a caller who may
    // make the transfer: to anyone else it is their own request.
    for (who, status, code) in [
        (&bank.member2, 404, "account_not_found"),
        (&bank.manager, 403, "forbidden"),
        (&bank.viewer, 403, "forbidden"),
    ] {
        let replay = post_transfer(&who.client, t, Some("rent-march"), &body).await;
        assert_eq!(replay.status, status, "{}: {}", who.email, replay.text());
        expect_problem(&replay, status, code);
    }

    // The same key with anything else about the request changed.
    for other in [
        json!({"from": wallet1, "to": wallet2, "amount": "11.00", "memo": "rent"}),
        json!({"from": wallet1, "to": wallet2, "amount": "10.00", "memo": "rent!"}),
        json!({"from": wallet1, "to": wallet2, "amount": "10.00"}),
        json!({"from": wallet1, "to": house, "amount": "10.00", "memo": "rent"}),
    ] {
        let reused = post_transfer(member1, t, Some("rent-march"), &other).await;
        expect_problem(&reused, 422, "idempotency_key_reused");
    }
    assert_eq!(account(member1, t, wallet1).await.balance, "90.00");

    // Sixteen at once with one key and one body.
    let racing = json!({"from": wallet1, "to": wallet2, "amount": "7.25"});
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let client = member1.clone();
        let t = t.to_owned();
        let racing = racing.clone();
        racers.spawn(async move { post_transfer(&client, &t, Some("racing"), &racing).await });
    }
    let mut answers = racers.join_all().await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    // On PostgreSQL a racer that came while the first transfer was running
    // is told so; now that every racer has its answer, a retry gets the one.
    for answer in &mut answers {
        if is_in_flight(answer) {
            *answer = post_transfer(member1, t, Some("racing"), &racing).await;
        }
    }
    let ids: BTreeSet<Uuid> = answers
        .iter()
        .map(|answer| {
            assert_eq!(
                answer.status,
                201,
                "statuses {statuses:?}: {}",
                answer.text()
            );
            answer.json::<TransferView>().unwrap().id
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let raced = ids.first().copied().unwrap();
    let entries = all_entries(member1, t, wallet1).await;
    let postings: Vec<&PostingView> = entries.iter().filter(|p| p.transfer_id == raced).collect();
    assert_eq!(postings.len(), 1, "{entries:#?}");
    assert_eq!(postings[0].amount, "-7.25");
    let wallet2_entries = all_entries(owner, t, wallet2).await;
    assert_eq!(
        wallet2_entries
            .iter()
            .filter(|p| p.transfer_id == raced)
            .count(),
        1
    );
    let wallet1_now = account(member1, t, wallet1).await;
    assert_eq!(wallet1_now.balance, "82.75");
    assert_consistent(&wallet1_now, &entries);
}
scenario!(a_transfer_happens_once_per_idempotency_key);

/// What one random transfer was answered.
#[derive(Debug)]
struct Outcome {
    key: String,
    status: u16,
    code: Option<String>,
    transfer: Option<Uuid>,
}

/// RELIABILITY E1, E2, E6: 100 funded accounts and 64 clients moving random
/// amounts (some beyond the balance) between them at once, a tenth of the
/// requests replaying an earlier key with its body. No answer is a server
/// error; the accounts and the house still sum to zero; no account is
/// below zero; every key that got a 201 made exactly one transfer; each
/// account's postings add up to its balance. Then 32 transfers back and
/// forth between one pair at once all succeed.
async fn concurrent_transfers_keep_the_books_balanced(server: TestServer) {
    let owner = server.signup("owner@ledger-busy.example").await;
    let tenant = server.create_tenant(&owner, "ledger-busy").await;
    let t = tenant.slug.clone();
    let client = owner.client.clone();
    let house = open(&client, &t, &usd("House", None, true)).await;
    let wallets = funded_wallets(&client, &t, house.id, N_WALLETS, "100.00").await;

    // The keys sent so far with their bodies, for replays.
    let sent: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let wallets = Arc::new(wallets);
    let mut clients = JoinSet::new();
    for c in 0..N_CLIENTS {
        let (client, t, sent, wallets) = (client.clone(), t.clone(), sent.clone(), wallets.clone());
        clients.spawn(async move {
            let mut rng = StdRng::seed_from_u64(SEED + c as u64);
            let mut outcomes = Vec::new();
            for i in 0..TRANSFERS_PER_CLIENT {
                let earlier = {
                    let sent = sent.lock().unwrap();
                    (rng.gen_bool(0.1) && !sent.is_empty())
                        .then(|| sent.choose(&mut rng).cloned())
                        .flatten()
                };
                let (key, body) = earlier.unwrap_or_else(|| {
                    let mut pair = wallets.choose_multiple(&mut rng, 2);
                    let (from, to) = (*pair.next().unwrap(), *pair.next().unwrap());
                    // Up to 150.00: some exceed what the source holds.
                    let amount = dollars(rng.gen_range(1..=15_000));
                    let key = format!("busy-{c}-{i}");
                    let body = transfer_body(from, to, &amount);
                    sent.lock().unwrap().push((key.clone(), body.clone()));
                    (key, body)
                });
                let answer = post_transfer(&client, &t, Some(&key), &body).await;
                let transfer =
                    (answer.status == 201).then(|| answer.json::<TransferView>().unwrap().id);
                outcomes.push(Outcome {
                    key,
                    status: answer.status,
                    code: answer.problem().map(|p| p.code),
                    transfer,
                });
            }
            outcomes
        });
    }
    let outcomes: Vec<Outcome> = clients.join_all().await.into_iter().flatten().collect();
    let context = format!("seed {SEED:#x}");

    let server_errors: Vec<&Outcome> = outcomes.iter().filter(|o| o.status >= 500).collect();
    assert!(
        server_errors.is_empty(),
        "{context}: server errors: {server_errors:#?}"
    );
    // A replay can overtake its own first request, which on PostgreSQL is
    // then still in flight (a 409 to retry).
    let unexpected: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            o.status != 201
                && !matches!(
                    o.code.as_deref(),
                    Some("insufficient_funds" | "idempotency_key_in_flight")
                )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{context}: unexpected answers: {unexpected:#?}"
    );
    // Each key that got a 201 got one transfer id, however often it was sent.
    let mut by_key: BTreeMap<&str, BTreeSet<Uuid>> = BTreeMap::new();
    for outcome in &outcomes {
        if let Some(id) = outcome.transfer {
            by_key.entry(&outcome.key).or_default().insert(id);
        }
    }
    assert!(
        by_key.values().all(|ids| ids.len() == 1),
        "{context}: a key made more than one transfer: {by_key:#?}"
    );
    let transfer_ids: BTreeSet<Uuid> = by_key.values().flatten().copied().collect();
    assert_eq!(
        transfer_ids.len(),
        by_key.len(),
        "{context}: two keys, one transfer"
    );
    let n_created = outcomes.iter().filter(|o| o.status == 201).count();
    let n_replays = outcomes.len() - sent.lock().unwrap().len();
    let n_refused = outcomes.len() - n_created;
    eprintln!(
        "{context}: {} requests, {n_created} answered 201, {n_refused} refused, {n_replays} replays, {} transfers",
        outcomes.len(),
        transfer_ids.len()
    );
    assert!(
        n_created > N_CLIENTS,
        "{context}: only {n_created} transfers succeeded"
    );
    assert!(n_replays > 0, "{context}: no key was replayed");
    assert!(
        n_refused > 0,
        "{context}: no transfer was refused for lack of funds"
    );

    // The books.
    let accounts = all_accounts(&client, &t).await;
    assert_eq!(accounts.len(), N_WALLETS + 1);
    let mut total = 0;
    let mut n_postings = 0;
    let mut posted_transfers = BTreeSet::new();
    for account in &accounts {
        let balance = cents(&account.balance);
        total += balance;
        if account.id != house.id {
            assert!(balance >= 0, "{context}: {} is at {balance}", account.name);
            assert_eq!(account.available, account.balance);
        }
        let entries = all_entries(&client, &t, account.id).await;
        assert_consistent(account, &entries);
        n_postings += entries.len();
        posted_transfers.extend(entries.iter().map(|p| p.transfer_id));
    }
    assert_eq!(total, 0, "{context}: the accounts do not sum to zero");
    assert_eq!(
        account(&client, &t, house.id).await.balance,
        dollars(-100 * 100 * i64::try_from(N_WALLETS).unwrap())
    );
    // Two postings per transfer: the fundings and one per successful key.
    assert_eq!(
        n_postings,
        2 * (N_WALLETS + transfer_ids.len()),
        "{context}"
    );
    assert_eq!(
        posted_transfers.len(),
        N_WALLETS + transfer_ids.len(),
        "{context}"
    );
    assert!(transfer_ids.is_subset(&posted_transfers), "{context}");

    // The hot pair: both directions at once, each side funded for the
    // worst order.
    let (left, right) = (wallets[0], wallets[1]);
    let mut before = Vec::new();
    for wallet in [left, right] {
        transfer(
            &client,
            &t,
            &format!("hot-fund-{wallet}"),
            house.id,
            wallet,
            "1.00",
            None,
        )
        .await;
        let entries = all_entries(&client, &t, wallet).await;
        before.push((account(&client, &t, wallet).await, entries.len()));
    }
    let mut hot = JoinSet::new();
    for i in 0..HOT_TRANSFERS {
        let (client, t) = (client.clone(), t.clone());
        let (from, to) = if i % 2 == 0 {
            (left, right)
        } else {
            (right, left)
        };
        hot.spawn(async move {
            post_transfer(
                &client,
                &t,
                Some(&format!("hot-{i}")),
                &transfer_body(from, to, "0.01"),
            )
            .await
        });
    }
    for answer in hot.join_all().await {
        assert_eq!(answer.status, 201, "{}", answer.text());
    }
    for (account_before, n_entries_before) in before {
        let after = account(&client, &t, account_before.id).await;
        // As many cents left as arrived.
        assert_eq!(after.balance, account_before.balance);
        let entries = all_entries(&client, &t, after.id).await;
        assert_consistent(&after, &entries);
        assert_eq!(entries.len(), n_entries_before + HOT_TRANSFERS);
    }
}
scenario!(concurrent_transfers_keep_the_books_balanced);

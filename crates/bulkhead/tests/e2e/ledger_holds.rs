//! Holds, grants and limit profiles end to end, on both backends (issue
//! 21): a wallet funded by a grant out of the house account; holds placed,
//! captured in part or released exactly once, replayed by key, and hidden
//! from whom may not see their account; grants only by `ledger.admin` and
//! with a reason; the default and the tenant's own limit profiles, and the
//! caps they put on transfers and holds. A hold's expiry is left to the
//! store conformance suite, which runs it on a clock it controls.

use std::collections::BTreeMap;

use bulkhead_client::types::{
    AuditEntryView, AuditQuery, CreateAccountRequest, CreateGrantRequest, CreateHoldRequest,
    HoldView, LimitProfileList, LimitProfileRequest, LimitProfileView, Role, SettledHoldView,
    TransferView,
};
use bulkhead_client::{Client, Method, RawResponse};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestServer, expect_error, expect_problem, request};
use crate::ledger::{
    Bank, account, accounts_path, all_entries, assert_consistent, open, post_with_key, transfer,
    transfers_path, usd,
};
use crate::records_common::field_codes;

/// The longest a hold may last, in seconds: 30 days.
const MAX_HOLD_SECONDS: u32 = 2_592_000;

fn holds_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/holds")
}

fn hold_path(t: &str, id: Uuid) -> String {
    format!("/v1/tenants/{t}/ledger/holds/{id}")
}

fn grants_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/grants")
}

fn profiles_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/limit-profiles")
}

fn profile_path(t: &str, name: &str) -> String {
    format!("/v1/tenants/{t}/ledger/limit-profiles/{name}")
}

fn hold_body(account: Uuid, amount: &str) -> CreateHoldRequest {
    CreateHoldRequest {
        account,
        amount: amount.to_owned(),
        expires_in_seconds: None,
        memo: None,
    }
}

/// A hold that must be placed.
async fn place(client: &Client, t: &str, key: &str, account: Uuid, amount: &str) -> HoldView {
    client
        .place_hold(t, key, &hold_body(account, amount))
        .await
        .unwrap_or_else(|error| panic!("hold {key} of {amount}: {error}"))
}

/// `POST …/holds/{id}/capture` with `amount` (all of the hold if `None`).
async fn capture(client: &Client, t: &str, id: Uuid, amount: Option<&str>) -> RawResponse {
    let body = match amount {
        Some(amount) => json!({ "amount": amount }),
        None => json!({}),
    };
    let path = format!("{}/capture", hold_path(t, id));
    request(client, Method::POST, &path, Some(body)).await
}

async fn release(client: &Client, t: &str, id: Uuid) -> RawResponse {
    let path = format!("{}/release", hold_path(t, id));
    request(client, Method::POST, &path, None).await
}

/// `what` of a hold: `get` it, or `capture` or `release` all of it.
async fn touch(client: &Client, t: &str, what: &str, id: Uuid) -> RawResponse {
    match what {
        "capture" => capture(client, t, id, None).await,
        "release" => release(client, t, id).await,
        _ => request(client, Method::GET, &hold_path(t, id), None).await,
    }
}

/// A capture or release that must succeed: 200 and the settled hold.
#[track_caller]
fn settled(answer: &RawResponse) -> SettledHoldView {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json().unwrap()
}

/// The balance and the available balance of an account.
async fn funds(client: &Client, t: &str, id: Uuid) -> (String, String) {
    let read = account(client, t, id).await;
    (read.balance, read.available)
}

fn pair(balance: &str, available: &str) -> (String, String) {
    (balance.to_owned(), available.to_owned())
}

async fn audit(client: &Client, t: &str, action: &str) -> Vec<AuditEntryView> {
    let query = AuditQuery {
        action: Some(action.to_owned()),
        limit: Some(100),
        ..AuditQuery::default()
    };
    client.list_audit(t, &query).await.unwrap().items
}

/// A 422 `limit_exceeded` whose detail names the cap.
#[track_caller]
fn expect_limit(answer: &RawResponse, cap: &str) {
    let problem = expect_problem(answer, 422, "limit_exceeded");
    assert!(
        problem.detail.contains(cap),
        "the {cap} cap is not named: {}",
        problem.detail
    );
}

/// A member's wallet is funded by a grant (the house account goes as far
/// below zero, the log keeps the reason); the member reserves part of it,
/// captures some of a hold (to the house account, releasing the rest) and
/// releases another, each exactly once; captures beyond the hold, expiries
/// out of range and replays by key reserve nothing more; another member
/// cannot find the hold, a manager sees it but cannot settle it, a viewer
/// cannot place one.
async fn holds_reserve_funds_until_captured_or_released(server: TestServer) {
    let bank = Bank::open(&server, "ledger-holds").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;
    let member1 = &bank.member1.client;
    let wallet1 = bank.wallet1.id;

    let grant = owner
        .create_grant(
            t,
            "welcome",
            &CreateGrantRequest {
                account: wallet1,
                amount: "100.00".to_owned(),
                reason: "welcome credit".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            grant.kind.as_str(),
            grant.to,
            grant.amount.as_str(),
            grant.memo.as_deref()
        ),
        ("grant", wallet1, "100.00", Some("welcome credit"))
    );
    let house = grant.from;
    let house_account = account(owner, t, house).await;
    assert_eq!(house_account.balance, "-100.00");
    assert_eq!(
        (house_account.currency.as_str(), house_account.owner_id),
        ("USD", None)
    );
    let granted = audit(owner, t, "ledger.grant").await;
    assert_eq!(granted.len(), 1, "{granted:#?}");
    assert_eq!(
        (
            granted[0].resource_id.clone(),
            granted[0].outcome.as_str(),
            granted[0].actor.id,
            granted[0].details["reason"].clone(),
            granted[0].details["amount"].clone(),
        ),
        (
            Some(grant.id.to_string()),
            "success",
            Some(bank.owner.id()),
            json!("welcome credit"),
            json!("100.00"),
        )
    );
    assert_eq!(funds(member1, t, wallet1).await, pair("100.00", "100.00"));

    // A hold reserves without moving: the balance stays, available drops.
    let first = post_with_key(
        member1,
        &holds_path(t),
        Some("run-1"),
        &json!({"account": wallet1, "amount": "30", "memo": "agent run 1"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let run1: HoldView = first.json().unwrap();
    assert_eq!(
        (
            run1.account,
            run1.amount.as_str(),
            run1.status.as_str(),
            run1.captured.as_str(),
            run1.transfer_id,
            run1.memo.as_deref()
        ),
        (wallet1, "30.00", "held", "0.00", None, Some("agent run 1"))
    );
    assert_eq!((run1.expires_at - run1.created_at).whole_seconds(), 3_600);
    assert_eq!(member1.get_hold(t, run1.id).await.unwrap(), run1);
    assert_eq!(funds(member1, t, wallet1).await, pair("100.00", "70.00"));
    expect_error(
        member1
            .place_hold(t, "run-too-big", &hold_body(wallet1, "70.01"))
            .await,
        422,
        "insufficient_funds",
    );
    let run2 = place(member1, t, "run-2", wallet1, "20.00").await;
    assert_eq!(funds(member1, t, wallet1).await, pair("100.00", "50.00"));

    // Capturing part of a hold pays that part to the house account and
    // lets go of the rest.
    let captured = settled(&capture(member1, t, run1.id, Some("12.34")).await);
    let paid = captured.transfer.clone().expect("a capture has a transfer");
    assert_eq!(
        (
            captured.hold.id,
            captured.hold.status.as_str(),
            captured.hold.amount.as_str(),
            captured.hold.captured.as_str(),
            captured.hold.transfer_id
        ),
        (run1.id, "captured", "30.00", "12.34", Some(paid.id))
    );
    assert_eq!(
        (paid.kind.as_str(), paid.from, paid.to, paid.amount.as_str()),
        ("capture", wallet1, house, "12.34")
    );
    assert_eq!(funds(member1, t, wallet1).await, pair("87.66", "67.66"));
    assert_eq!(account(owner, t, house).await.balance, "-87.66");
    assert_eq!(member1.get_hold(t, run1.id).await.unwrap(), captured.hold);
    let entries = all_entries(member1, t, wallet1).await;
    let postings: Vec<_> = entries
        .iter()
        .map(|p| {
            (
                p.transfer_id,
                p.kind.as_str(),
                p.counterparty,
                p.amount.as_str(),
                p.balance_after.as_str(),
            )
        })
        .collect();
    assert_eq!(
        postings,
        [
            (paid.id, "capture", house, "-12.34", "87.66"),
            (grant.id, "grant", house, "100.00", "100.00"),
        ]
    );

    // A settled hold stays settled.
    for again in [
        capture(member1, t, run1.id, None).await,
        capture(member1, t, run1.id, Some("1.00")).await,
        release(member1, t, run1.id).await,
    ] {
        expect_problem(&again, 409, "hold_settled");
    }
    let released = settled(&release(member1, t, run2.id).await);
    assert_eq!(
        (
            released.hold.status.as_str(),
            released.hold.captured.as_str(),
            released.hold.transfer_id,
            released.transfer
        ),
        ("released", "0.00", None, None)
    );
    assert_eq!(funds(member1, t, wallet1).await, pair("87.66", "87.66"));
    expect_problem(&release(member1, t, run2.id).await, 409, "hold_settled");
    expect_problem(
        &capture(member1, t, run2.id, None).await,
        409,
        "hold_settled",
    );

    // A capture is at most the hold; refused, it leaves the hold open.
    let run3 = place(member1, t, "run-3", wallet1, "10.00").await;
    let problem = expect_problem(
        &capture(member1, t, run3.id, Some("10.01")).await,
        422,
        "validation_failed",
    );
    assert_eq!(
        field_codes(&problem),
        BTreeMap::from([("amount".to_owned(), "exceeds_hold".to_owned())])
    );
    assert_eq!(member1.get_hold(t, run3.id).await.unwrap().status, "held");
    let whole = settled(&capture(member1, t, run3.id, None).await);
    assert_eq!(whole.hold.captured, "10.00");
    assert_eq!(funds(member1, t, wallet1).await, pair("77.66", "77.66"));

    // A hold lasts 1 second to 30 days.
    for (i, seconds) in [0, MAX_HOLD_SECONDS + 1, u32::MAX].into_iter().enumerate() {
        let body = json!({"account": wallet1, "amount": "1.00", "expires_in_seconds": seconds});
        let answer =
            post_with_key(member1, &holds_path(t), Some(&format!("when-{i}")), &body).await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            BTreeMap::from([("expires_in_seconds".to_owned(), "out_of_range".to_owned())]),
            "{seconds}"
        );
    }
    let longest = member1
        .place_hold(
            t,
            "longest",
            &CreateHoldRequest {
                expires_in_seconds: Some(MAX_HOLD_SECONDS),
                ..hold_body(wallet1, "1.00")
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (longest.expires_at - longest.created_at).whole_seconds(),
        i64::from(MAX_HOLD_SECONDS)
    );
    settled(&release(member1, t, longest.id).await);
    assert_eq!(funds(member1, t, wallet1).await, pair("77.66", "77.66"));

    // A replay answers the first hold and reserves nothing more; the same
    // key with another body is refused.
    let body = json!({"account": wallet1, "amount": "5.00", "memo": "retry me"});
    let first = post_with_key(member1, &holds_path(t), Some("run-4"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first_body: Value = first.json().unwrap();
    let replay = post_with_key(member1, &holds_path(t), Some("run-4"), &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text());
    assert_eq!(replay.json::<Value>().unwrap(), first_body);
    let run4: HoldView = first.json().unwrap();
    assert_eq!(funds(member1, t, wallet1).await, pair("77.66", "72.66"));
    let other = json!({"account": wallet1, "amount": "6.00", "memo": "retry me"});
    let reused = post_with_key(member1, &holds_path(t), Some("run-4"), &other).await;
    expect_problem(&reused, 422, "idempotency_key_reused");
    let keyless = post_with_key(member1, &holds_path(t), None, &body).await;
    expect_problem(&keyless, 400, "idempotency_key_required");

    // Who sees and settles the hold: another member finds nothing, exactly
    // as for a hold that never was; a manager reads it and may not settle
    // it; a viewer may not place one.
    let never = Uuid::now_v7();
    let member2 = &bank.member2.client;
    for what in ["get", "capture", "release"] {
        let theirs = touch(member2, t, what, run4.id).await;
        expect_problem(&theirs, 404, "hold_not_found");
        let nobodys = touch(member2, t, what, never).await;
        assert_eq!(theirs.text(), nobodys.text(), "member2 {what}");
    }
    let not_an_id = request(
        member1,
        Method::GET,
        &format!("{}/not-an-id", holds_path(t)),
        None,
    )
    .await;
    expect_problem(&not_an_id, 404, "hold_not_found");
    let manager = &bank.manager.client;
    assert_eq!(manager.get_hold(t, run4.id).await.unwrap(), run4);
    expect_problem(&capture(manager, t, run4.id, None).await, 403, "forbidden");
    expect_problem(&release(manager, t, run4.id).await, 403, "forbidden");
    let viewer = &bank.viewer.client;
    let answer = post_with_key(
        viewer,
        &holds_path(t),
        Some("viewer"),
        &json!({"account": wallet1, "amount": "1.00"}),
    )
    .await;
    expect_problem(&answer, 403, "forbidden");
    expect_problem(
        &request(viewer, Method::GET, &hold_path(t, run4.id), None).await,
        404,
        "hold_not_found",
    );
    // Nor can a member reserve another's money.
    let answer = post_with_key(
        member2,
        &holds_path(t),
        Some("member2"),
        &json!({"account": wallet1, "amount": "1.00"}),
    )
    .await;
    expect_problem(&answer, 404, "account_not_found");
    assert_eq!(member1.get_hold(t, run4.id).await.unwrap(), run4);
    assert_eq!(funds(member1, t, wallet1).await, pair("77.66", "72.66"));
    let denied = audit(owner, t, "ledger.hold.capture").await;
    assert!(
        denied
            .iter()
            .any(|e| e.outcome == "denied" && e.actor.id == Some(bank.manager.id())),
        "the manager's refused capture is not in the log: {denied:#?}"
    );

    settled(&release(member1, t, run4.id).await);
    let wallet = account(member1, t, wallet1).await;
    assert_eq!(
        (wallet.balance.as_str(), wallet.available.as_str()),
        ("77.66", "77.66")
    );
    assert_consistent(&wallet, &all_entries(member1, t, wallet1).await);
    let captures: Vec<Option<String>> = audit(owner, t, "ledger.hold.capture")
        .await
        .into_iter()
        .filter(|e| e.outcome == "success")
        .map(|e| e.resource_id)
        .collect();
    assert_eq!(
        captures,
        [Some(run3.id.to_string()), Some(run1.id.to_string())]
    );
}
scenario!(holds_reserve_funds_until_captured_or_released);

/// A grant refused: its key and body, the status and code, and the field
/// and field code, if it is about one.
type GrantRefusal<'a> = (&'a str, Value, u16, &'a str, Option<(&'a str, &'a str)>);

/// Only `ledger.admin` grants, with a reason; a replay grants once; a
/// grant to an unknown account or to the house account itself, or without
/// a usable reason, changes nothing.
async fn grants_are_made_by_admins_with_a_reason(server: TestServer) {
    let bank = Bank::open(&server, "ledger-grants").await;
    let t = bank.t.as_str();
    let wallet2 = bank.wallet2.id;
    let admin = server
        .add_member(&bank.owner, t, "admin@ledger-grants.example", Role::Admin)
        .await;
    let body = json!({"account": wallet2, "amount": "25.00", "reason": "refund of ticket 42"});
    let first = post_with_key(&admin.client, &grants_path(t), Some("refund-42"), &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let granted: TransferView = first.json().unwrap();
    assert_eq!(
        (
            granted.kind.as_str(),
            granted.to,
            granted.amount.as_str(),
            granted.memo.as_deref()
        ),
        ("grant", wallet2, "25.00", Some("refund of ticket 42"))
    );
    let replay = post_with_key(&admin.client, &grants_path(t), Some("refund-42"), &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text());
    assert_eq!(replay.json::<TransferView>().unwrap(), granted);
    let house = granted.from;
    assert_eq!(account(&admin.client, t, wallet2).await.balance, "25.00");
    assert_eq!(account(&admin.client, t, house).await.balance, "-25.00");
    let before = bank.books().await;

    // Below admin: refused, even into one's own wallet.
    for who in [&bank.member2, &bank.manager, &bank.viewer] {
        let answer = post_with_key(
            &who.client,
            &grants_path(t),
            Some(&format!("by-{}", who.email)),
            &json!({"account": wallet2, "amount": "1.00", "reason": "because"}),
        )
        .await;
        assert_eq!(answer.status, 403, "{}: {}", who.email, answer.text());
        expect_problem(&answer, 403, "forbidden");
    }
    // A reason is required: without one the body does not fit the request
    // (400, as for any missing field); a blank or overlong one is 422.
    let answer = post_with_key(
        &admin.client,
        &grants_path(t),
        Some("no-reason"),
        &json!({"account": wallet2, "amount": "1.00"}),
    )
    .await;
    expect_problem(&answer, 400, "invalid_body");
    for (key, reason) in [("blank", " ".repeat(3)), ("long", "r".repeat(501))] {
        let answer = post_with_key(
            &admin.client,
            &grants_path(t),
            Some(key),
            &json!({"account": wallet2, "amount": "1.00", "reason": reason}),
        )
        .await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            BTreeMap::from([("reason".to_owned(), "invalid_reason".to_owned())]),
            "{key}"
        );
    }
    let refusals: [GrantRefusal<'_>; 4] = [
        (
            "unknown",
            json!({"account": Uuid::now_v7(), "amount": "1.00", "reason": "r"}),
            404,
            "account_not_found",
            None,
        ),
        (
            "to-house",
            json!({"account": house, "amount": "1.00", "reason": "r"}),
            422,
            "validation_failed",
            Some(("account", "house_account")),
        ),
        (
            "zero",
            json!({"account": wallet2, "amount": "0.00", "reason": "r"}),
            422,
            "validation_failed",
            Some(("amount", "invalid_amount")),
        ),
        (
            "refund-42",
            json!({"account": wallet2, "amount": "26.00", "reason": "refund of ticket 42"}),
            422,
            "idempotency_key_reused",
            None,
        ),
    ];
    for (key, body, status, code, field) in refusals {
        let answer = post_with_key(&admin.client, &grants_path(t), Some(key), &body).await;
        let problem = expect_problem(&answer, status, code);
        if let Some((field, code)) = field {
            assert_eq!(
                field_codes(&problem),
                BTreeMap::from([(field.to_owned(), code.to_owned())]),
                "{key}"
            );
        }
    }
    let keyless = post_with_key(&admin.client, &grants_path(t), None, &body).await;
    expect_problem(&keyless, 400, "idempotency_key_required");
    assert!(
        bank.books().await == before,
        "a refused grant changed the books"
    );
    let logged = audit(&bank.owner.client, t, "ledger.grant").await;
    let granted_entries: Vec<_> = logged.iter().filter(|e| e.outcome == "success").collect();
    assert_eq!(granted_entries.len(), 1, "{logged:#?}");
    assert_eq!(
        (
            granted_entries[0].actor.id,
            granted_entries[0].details["reason"].clone()
        ),
        (Some(admin.id()), json!("refund of ticket 42"))
    );
    assert!(
        logged
            .iter()
            .any(|e| e.outcome == "denied" && e.actor.id == Some(bank.manager.id())),
        "the manager's refused grant is not in the log: {logged:#?}"
    );
}
scenario!(grants_are_made_by_admins_with_a_reason);

/// A profile as `(name, single, daily, monthly, default)`.
type ProfileSummary<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

/// Each profile listed as a [`ProfileSummary`].
fn summary(profiles: &[LimitProfileView]) -> Vec<ProfileSummary<'_>> {
    profiles
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.single.as_deref(),
                p.daily.as_deref(),
                p.monthly.as_deref(),
                p.default,
            )
        })
        .collect()
}

/// Admins list the four default profiles, add their own and change any
/// (a changed default is the tenant's own); names are unique, caps are
/// decimals. An account on a profile is refused a transfer or a hold above
/// its single cap and transfers past its daily cap; a cap set to `null` no
/// longer applies.
async fn limit_profiles_cap_what_an_account_pays_out(server: TestServer) {
    let bank = Bank::open(&server, "ledger-limits").await;
    let t = bank.t.as_str();
    let owner = &bank.owner.client;
    let admin = server
        .add_member(&bank.owner, t, "admin@ledger-limits.example", Role::Admin)
        .await;
    let admin = &admin.client;

    let listed = request(admin, Method::GET, &profiles_path(t), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed: LimitProfileList = listed.json().unwrap();
    assert_eq!(
        summary(&listed.items),
        [
            ("bronze", Some("500"), Some("1000"), Some("10000"), true),
            ("gold", Some("10000"), Some("20000"), Some("200000"), true),
            (
                "platinum",
                Some("25000"),
                Some("50000"),
                Some("500000"),
                true
            ),
            ("silver", Some("2500"), Some("5000"), Some("50000"), true),
        ]
    );
    for who in [&bank.member1, &bank.manager, &bank.viewer] {
        let what = &who.email;
        let answer = request(&who.client, Method::GET, &profiles_path(t), None).await;
        assert_eq!(answer.status, 403, "{what}: {}", answer.text());
        expect_problem(&answer, 403, "forbidden");
        let answer = request(
            &who.client,
            Method::POST,
            &profiles_path(t),
            Some(json!({"name": "mine", "single": "1"})),
        )
        .await;
        expect_problem(&answer, 403, "forbidden");
        let answer = request(
            &who.client,
            Method::PATCH,
            &profile_path(t, "gold"),
            Some(json!({"single": "1"})),
        )
        .await;
        expect_problem(&answer, 403, "forbidden");
    }

    // A profile of the tenant's own; its name, and a default's, is taken.
    let created = request(
        admin,
        Method::POST,
        &profiles_path(t),
        Some(json!({"name": "agents", "single": "50", "daily": "75"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let agents: LimitProfileView = created.json().unwrap();
    assert_eq!(
        summary(&[agents]),
        [("agents", Some("50"), Some("75"), None, false)]
    );
    for name in ["agents", "gold"] {
        let answer = request(
            admin,
            Method::POST,
            &profiles_path(t),
            Some(json!({"name": name})),
        )
        .await;
        expect_problem(&answer, 409, "limit_profile_exists");
    }

    // Changing a default makes it the tenant's; `null` removes a cap.
    let gold = admin
        .update_limit_profile(
            t,
            "gold",
            &LimitProfileRequest {
                single: Some(Some("100".to_owned())),
                ..LimitProfileRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        summary(&[gold]),
        [("gold", Some("100"), Some("20000"), Some("200000"), false)]
    );
    let answer = request(
        admin,
        Method::PATCH,
        &profile_path(t, "agents"),
        Some(json!({"daily": null})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let agents: LimitProfileView = answer.json().unwrap();
    assert_eq!(
        summary(&[agents]),
        [("agents", Some("50"), None, None, false)]
    );
    let answer = request(
        admin,
        Method::PATCH,
        &profile_path(t, "diamond"),
        Some(json!({"single": "1"})),
    )
    .await;
    expect_problem(&answer, 404, "limit_profile_not_found");

    // Bad caps and names, which change nothing.
    let bad: [(Method, String, Value, BTreeMap<&str, &str>); 4] = [
        (
            Method::PATCH,
            profile_path(t, "gold"),
            json!({"single": "-1", "daily": "1e3", "monthly": "5."}),
            BTreeMap::from([
                ("single", "invalid_amount"),
                ("daily", "invalid_amount"),
                ("monthly", "invalid_amount"),
            ]),
        ),
        (
            Method::POST,
            profiles_path(t),
            json!({"name": "fractions", "single": ".5"}),
            BTreeMap::from([("single", "invalid_amount")]),
        ),
        (
            Method::POST,
            profiles_path(t),
            json!({"name": "Not A Name"}),
            BTreeMap::from([("name", "invalid_name")]),
        ),
        (
            Method::PATCH,
            profile_path(t, "gold"),
            json!({"name": "platinum"}),
            BTreeMap::from([("name", "read_only")]),
        ),
    ];
    for (method, path, body, expected) in bad {
        let answer = request(admin, method, &path, Some(body.clone())).await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        let expected: BTreeMap<String, String> = expected
            .into_iter()
            .map(|(field, code)| (field.to_owned(), code.to_owned()))
            .collect();
        assert_eq!(field_codes(&problem), expected, "{body}");
    }
    let listed = admin.list_limit_profiles(t).await.unwrap();
    assert_eq!(
        summary(&listed.items),
        [
            ("agents", Some("50"), None, None, false),
            ("bronze", Some("500"), Some("1000"), Some("10000"), true),
            ("gold", Some("100"), Some("20000"), Some("200000"), false),
            (
                "platinum",
                Some("25000"),
                Some("50000"),
                Some("500000"),
                true
            ),
            ("silver", Some("2500"), Some("5000"), Some("50000"), true),
        ]
    );

    // Accounts on a profile; a profile that does not exist is refused.
    let answer = request(
        owner,
        Method::POST,
        &accounts_path(t),
        Some(json!({"name": "x", "currency": "USD", "scale": 2, "limit_profile": "diamond"})),
    )
    .await;
    let problem = expect_problem(&answer, 422, "validation_failed");
    assert_eq!(
        field_codes(&problem),
        BTreeMap::from([("limit_profile".to_owned(), "not_found".to_owned())])
    );
    let on_profile = |name: &str, profile: &str| CreateAccountRequest {
        limit_profile: Some(profile.to_owned()),
        ..usd(name, Some(bank.member1.id()), false)
    };
    let agent = open(owner, t, &on_profile("Agent", "agents")).await;
    let house = bank.house.id;
    // Payments into an account are not capped: only what leaves it.
    transfer(owner, t, "fund-agent", house, agent.id, "1000.00", None).await;

    // Gold: 100 a payment (as changed), and a daily cap brought within
    // reach of a few transfers.
    admin
        .update_limit_profile(
            t,
            "gold",
            &LimitProfileRequest {
                daily: Some(Some("250".to_owned())),
                ..LimitProfileRequest::default()
            },
        )
        .await
        .unwrap();
    // What the daily cap lets through starts again at UTC midnight. If the
    // day turned while the part it decides ran, its outcome (a failure
    // included) does not count and the part runs again, on an account of
    // its own; the day does not turn twice in a few seconds.
    for attempt in 0.. {
        let day = utc_today();
        let gold = GoldDay {
            owner: owner.clone(),
            member: bank.member1.client.clone(),
            member_id: bank.member1.id(),
            t: t.to_owned(),
            house,
            payee: bank.wallet2.id,
        };
        let outcome = tokio::spawn(pay_against_the_daily_cap(gold, attempt)).await;
        if utc_today() == day {
            if let Err(failed) = outcome {
                std::panic::resume_unwind(failed.into_panic());
            }
            break;
        }
        assert_eq!(attempt, 0, "the UTC day turned twice");
    }

    // Agents: 50 a payment, and no daily cap since it was set to null (it
    // was 75).
    let member1 = &bank.member1.client;
    let wallet2 = bank.wallet2.id;
    let agent_id = agent.id;
    let agent_pay = |key: String, amount: &'static str| async move {
        post_with_key(
            member1,
            &transfers_path(t),
            Some(&key),
            &json!({"from": agent_id, "to": wallet2, "amount": amount}),
        )
        .await
    };
    expect_limit(&agent_pay("agent-over".to_owned(), "50.01").await, "single");
    for i in 0..3 {
        let answer = agent_pay(format!("agent-{i}"), "50.00").await;
        assert_eq!(answer.status, 201, "{i}: {}", answer.text());
    }
    assert_eq!(account(member1, t, agent.id).await.balance, "850.00");
}
scenario!(limit_profiles_cap_what_an_account_pays_out);

/// The UTC date now, as the server's own clock (the same machine's) has it.
#[allow(
    clippy::disallowed_methods,
    reason = "the server under test runs on the real clock, so the test reads it too"
)]
fn utc_today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Who pays whom in [`pay_against_the_daily_cap`], owned: the part runs as
/// a task of its own.
struct GoldDay {
    owner: Client,
    member: Client,
    member_id: Uuid,
    t: String,
    house: Uuid,
    payee: Uuid,
}

/// The part of [`limit_profiles_cap_what_an_account_pays_out`] that the
/// gold profile's daily cap (250) decides, on a new account of the member
/// funded with 1000, with keys of the `attempt`'s own: payments up to the
/// single cap and then to the daily one; a hold held to the single cap,
/// whose capture, a payment too, is held to the daily one and, refused,
/// leaves the hold open.
async fn pay_against_the_daily_cap(gold: GoldDay, attempt: u32) {
    let (owner, member1, t) = (&gold.owner, &gold.member, gold.t.as_str());
    let key = |name: &str| format!("{name}-{attempt}");
    let golden = CreateAccountRequest {
        limit_profile: Some("gold".to_owned()),
        ..usd(&format!("Golden {attempt}"), Some(gold.member_id), false)
    };
    let golden = open(owner, t, &golden).await;
    assert_eq!(golden.limit_profile.as_deref(), Some("gold"));
    let fund = key("fund-golden");
    transfer(owner, t, &fund, gold.house, golden.id, "1000.00", None).await;
    let (golden_id, payee) = (golden.id, gold.payee);
    let pay = |key: String, amount: &'static str| async move {
        post_with_key(
            member1,
            &transfers_path(t),
            Some(&key),
            &json!({"from": golden_id, "to": payee, "amount": amount}),
        )
        .await
    };
    expect_limit(&pay(key("gold-over-single"), "100.01").await, "single");
    for name in ["gold-1", "gold-2"] {
        let answer = pay(key(name), "100.00").await;
        assert_eq!(answer.status, 201, "{name}: {}", answer.text());
    }
    // The UTC day's 250 counts what has left since midnight: 200 so far.
    expect_limit(&pay(key("gold-over-daily"), "50.01").await, "daily");
    let answer = pay(key("gold-3"), "50.00").await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    expect_limit(&pay(key("gold-cent"), "0.01").await, "daily");
    assert_eq!(funds(member1, t, golden.id).await, pair("750.00", "750.00"));

    let answer = post_with_key(
        member1,
        &holds_path(t),
        Some(&key("gold-hold-over")),
        &json!({"account": golden.id, "amount": "100.01"}),
    )
    .await;
    expect_limit(&answer, "single");
    let hold = place(member1, t, &key("gold-hold"), golden.id, "100.00").await;
    expect_limit(&capture(member1, t, hold.id, Some("1.00")).await, "daily");
    assert_eq!(member1.get_hold(t, hold.id).await.unwrap().status, "held");
    settled(&release(member1, t, hold.id).await);
    assert_eq!(funds(member1, t, golden.id).await, pair("750.00", "750.00"));
}

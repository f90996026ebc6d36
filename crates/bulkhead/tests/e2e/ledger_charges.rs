//! Charges end to end, on both backends (issue 21): a metered cost debited
//! to an account times the tenant's markup (1 until a platform admin sets
//! another), rounded half up, to the tenant's house account; an unlimited
//! account recorded, not debited; replays by key; who may charge and who
//! may set the markup.

use std::collections::BTreeMap;

use bulkhead_client::types::{
    AdminTenantQuery, AdminTenantView, AuditQuery, ChargeView, CreateAccountRequest,
    CreateChargeRequest, CreateGrantRequest, SetChargeMarkupRequest,
};
use bulkhead_client::{Client, Method};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Backend, Options, TestServer, expect_problem, request};
use crate::ledger::{Bank, account, all_entries, assert_consistent, open, post_with_key, usd};
use crate::records_common::field_codes;

pub(crate) fn charges_path(t: &str) -> String {
    format!("/v1/tenants/{t}/ledger/charges")
}

pub(crate) fn markup_path(t: &str) -> String {
    format!("/v1/admin/tenants/{t}/charge-markup")
}

/// A charge that must be accepted.
async fn charge(client: &Client, t: &str, key: &str, account: Uuid, cost: &str) -> ChargeView {
    let body = CreateChargeRequest {
        account,
        cost: cost.to_owned(),
        memo: Some(format!("run {key}")),
    };
    client
        .create_charge(t, key, &body)
        .await
        .unwrap_or_else(|error| panic!("charge {key} of {cost}: {error}"))
}

async fn set_markup(root: &Client, t: &str, markup: &str) -> AdminTenantView {
    let body = SetChargeMarkupRequest {
        markup: markup.to_owned(),
    };
    root.admin_set_charge_markup(t, &body)
        .await
        .unwrap_or_else(|error| panic!("markup {markup}: {error}"))
}

/// The markup starts at 1 and only a platform admin changes it (shown in
/// the admin's tenant view); a member's charges on their own wallet debit
/// `cost × markup` rounded half up ("0.03" at 1.5 is "0.05") to the house,
/// replay by key, and are refused without a key, beyond the funds, or on
/// an account the caller may not debit; an unlimited account's charge is
/// recorded with no transfer and its balance stays.
async fn charges_debit_the_marked_up_cost_to_the_house(backend: Backend) {
    let options = Options::default().admin("root@example.com");
    let Some(server) = TestServer::start_with(backend, options).await else {
        return;
    };
    let root = server.login_admin("root@example.com").await;
    let bank = Bank::open(&server, "ledger-charges").await;
    let t = bank.t.as_str();
    let (owner, member1) = (&bank.owner.client, &bank.member1.client);
    let wallet1 = bank.wallet1.id;

    let query = AdminTenantQuery {
        q: Some(t.to_owned()),
        ..AdminTenantQuery::default()
    };
    let listed = root.client.admin_list_tenants(&query).await.unwrap();
    assert_eq!(listed.items.len(), 1, "{listed:?}");
    assert_eq!(listed.items[0].charge_markup, None);
    let grant = CreateGrantRequest {
        account: wallet1,
        amount: "10.00".into(),
        reason: "credits for agents".into(),
    };
    let house = owner.create_grant(t, "fund", &grant).await.unwrap().from;

    // At the default markup the cost is the amount.
    let first = charge(member1, t, "c1", wallet1, "0.03").await;
    assert_eq!(
        (
            first.account,
            first.cost.as_str(),
            first.markup.as_str(),
            first.amount.as_str(),
            first.debited
        ),
        (wallet1, "0.03", "1", "0.03", true)
    );
    assert_eq!(first.memo.as_deref(), Some("run c1"));

    // Only a platform admin sets the markup; a bad one is a 422.
    for who in [&bank.owner, &bank.member1] {
        let answer = request(
            &who.client,
            Method::PUT,
            &markup_path(t),
            Some(json!({"markup": "5"})),
        )
        .await;
        expect_problem(&answer, 403, "forbidden");
    }
    for bad in ["0", "-1", "abc", "1.0000001", "1000001"] {
        let answer = request(
            &root.client,
            Method::PUT,
            &markup_path(t),
            Some(json!({"markup": bad})),
        )
        .await;
        let problem = expect_problem(&answer, 422, "validation_failed");
        assert_eq!(
            field_codes(&problem),
            BTreeMap::from([("markup".to_owned(), "invalid_markup".to_owned())]),
            "{bad}"
        );
    }
    let answer = request(
        &root.client,
        Method::PUT,
        &markup_path("no-such-tenant"),
        Some(json!({"markup": "5"})),
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.text());
    assert_eq!(
        set_markup(&root.client, t, "5")
            .await
            .charge_markup
            .as_deref(),
        Some("5")
    );
    assert_eq!(
        charge(member1, t, "c5", wallet1, "0.03").await.amount,
        "0.15"
    );

    // 0.03 × 1.5 = 0.045, which rounds up to 0.05.
    assert_eq!(
        set_markup(&root.client, t, "1.5")
            .await
            .charge_markup
            .as_deref(),
        Some("1.5")
    );
    let body = json!({"account": wallet1, "cost": "0.03"});
    let answer = post_with_key(member1, &charges_path(t), Some("half"), &body).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let half: ChargeView = answer.json().unwrap();
    assert_eq!(
        (half.markup.as_str(), half.amount.as_str(), half.debited),
        ("1.5", "0.05", true)
    );
    let replay = post_with_key(member1, &charges_path(t), Some("half"), &body).await;
    assert_eq!(replay.status, 201, "{}", replay.text());
    assert_eq!(replay.json::<ChargeView>().unwrap(), half);
    let other = json!({"account": wallet1, "cost": "0.04"});
    let reused = post_with_key(member1, &charges_path(t), Some("half"), &other).await;
    expect_problem(&reused, 422, "idempotency_key_reused");
    let spent = 3 + 15 + 5;
    let wallet = account(member1, t, wallet1).await;
    assert_eq!(wallet.balance, format!("9.{}", 100 - spent));
    assert_eq!(
        account(owner, t, house).await.balance,
        format!("-9.{}", 100 - spent)
    );
    let entries = all_entries(member1, t, wallet1).await;
    assert_consistent(&wallet, &entries);
    let newest = &entries[0];
    assert_eq!(
        (
            newest.kind.as_str(),
            newest.transfer_id,
            newest.counterparty,
            newest.amount.as_str()
        ),
        ("charge", half.transfer_id.unwrap(), house, "-0.05")
    );

    // Refusals write nothing.
    let before = bank.books().await;
    let answer = post_with_key(member1, &charges_path(t), None, &body).await;
    expect_problem(&answer, 400, "idempotency_key_required");
    let broke = json!({"account": wallet1, "cost": "100.00"});
    let answer = post_with_key(member1, &charges_path(t), Some("broke"), &broke).await;
    expect_problem(&answer, 422, "insufficient_funds");
    let zero = json!({"account": wallet1, "cost": "0.00"});
    let answer = post_with_key(member1, &charges_path(t), Some("zero"), &zero).await;
    let problem = expect_problem(&answer, 422, "validation_failed");
    assert_eq!(
        field_codes(&problem),
        BTreeMap::from([("cost".to_owned(), "invalid_cost".to_owned())])
    );
    let answer = post_with_key(&bank.member2.client, &charges_path(t), Some("m2"), &body).await;
    expect_problem(&answer, 404, "account_not_found");
    let to_house = json!({"account": house, "cost": "1.00"});
    let answer = post_with_key(owner, &charges_path(t), Some("house"), &to_house).await;
    expect_problem(&answer, 422, "validation_failed");
    assert_eq!(bank.books().await, before);

    // An unlimited account is recorded, not debited.
    let agent = CreateAccountRequest {
        unlimited: true,
        ..usd("Agent", Some(bank.member1.id()), false)
    };
    let agent = open(owner, t, &agent).await;
    let recorded = charge(member1, t, "agent", agent.id, "2.00").await;
    assert_eq!(
        (
            recorded.amount.as_str(),
            recorded.debited,
            recorded.transfer_id
        ),
        ("3.00", false, None)
    );
    let agent = account(member1, t, agent.id).await;
    assert_eq!(agent.balance, "0.00");
    assert!(all_entries(member1, t, agent.id).await.is_empty());

    let query = AuditQuery {
        action: Some("ledger.charge".to_owned()),
        limit: Some(100),
        ..AuditQuery::default()
    };
    let audit = owner.list_audit(t, &query).await.unwrap().items;
    let successes: Vec<_> = audit.iter().filter(|e| e.outcome == "success").collect();
    assert_eq!(successes.len(), 4, "{audit:?}");
    let newest = &successes[0].details;
    assert_eq!(
        (
            &newest["cost"],
            &newest["markup"],
            &newest["amount"],
            &newest["debited"]
        ),
        (&json!("2.00"), &json!("1.5"), &json!("3.00"), &json!(false))
    );
}
scenario!(charges_debit_the_marked_up_cost_to_the_house, backend);

//! One operation of the isolation table: tenant A's handle aimed at
//! tenant B's rows, and what it must (not) find or change.

use bulkhead_domain::collection::FieldType;
use bulkhead_domain::filter::{FieldRef, SystemField, TypedExpr, TypedValue};
use bulkhead_domain::{Role, TenantId};
use serde_json::json;

use super::Op;
use super::seed::Foreign;
use super::snapshot::{
    B_ONLY_COLLECTION, PROBED_UNIQUE_VALUES, SHARED_COLLECTION, all_records, notes_schema,
    secrets_schema,
};
use crate::fixtures::{self, at, hash_of};
use bulkhead_store::ledger::{
    Caps, Capture, HoldRefusal, LedgerAccountQuery, PostingQuery, SettleHold, SettleRefusal,
    TransferRefusal,
};
use bulkhead_store::metering::{MeteredUse, UsageHour, day_of, hour_of};
use bulkhead_store::{
    AuditQuery, EventKind, IdempotencyClaim, InvitationAcceptance, MembershipChange, Page,
    RecordChange, RecordQuery, TenantTx, Write,
};

pub(super) async fn attempt(op: Op, tx: &mut dyn TenantTx, a: TenantId, foreign: &Foreign) {
    match op {
        Op::ReadTenant => {
            let tenant = tx.tenant().await.unwrap().unwrap();
            assert_eq!(tenant.id, a);
        }
        Op::RenameTenant => {
            let tenant = tx
                .rename_tenant("Renamed by A", at(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(tenant.id, a);
        }
        Op::GetMembership => {
            assert!(tx.membership(foreign.owner).await.unwrap().is_none());
        }
        Op::ListMemberships => {
            let all = tx.list_memberships(Page::first(1000)).await.unwrap();
            assert!(all.iter().all(|m| m.tenant_id == a), "{all:?}");
            assert!(all.iter().all(|m| m.user_id != foreign.owner));
            let shared = all.iter().find(|m| m.user_id == foreign.shared).unwrap();
            assert_eq!(
                shared.role,
                Role::Viewer,
                "A sees B's role for the shared user"
            );
        }
        Op::ListMembers => {
            let all = tx.list_members(Page::first(1000)).await.unwrap();
            assert!(all.iter().all(|m| m.membership.tenant_id == a), "{all:?}");
            assert!(all.iter().all(|m| m.membership.user_id != foreign.owner));
            assert!(
                all.iter()
                    .all(|m| m.email.as_str() != "owner-b@example.com")
            );
        }
        Op::CountMembers => {
            assert_eq!(tx.count_members_with_role(Role::Owner).await.unwrap(), 1);
            assert_eq!(tx.count_members_with_role(Role::Member).await.unwrap(), 0);
        }
        Op::SetMemberRole => {
            assert!(
                tx.set_member_role(MembershipChange {
                    user_id: foreign.owner,
                    role: Role::Viewer,
                    at: at(1)
                })
                .await
                .unwrap()
                .is_none()
            );
        }
        Op::SetSharedMemberRole => {
            let changed = tx
                .set_member_role(MembershipChange {
                    user_id: foreign.shared,
                    role: Role::Admin,
                    at: at(1),
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(changed.tenant_id, a);
        }
        Op::DeleteMembership => {
            assert!(!tx.delete_membership(foreign.owner).await.unwrap());
        }
        Op::InsertMembership => {
            let inserted = tx
                .insert_membership(fixtures::membership(foreign.outsider, Role::Member))
                .await
                .unwrap();
            assert_eq!(inserted.tenant_id, a);
            let owner_b_in_a = tx
                .insert_membership(fixtures::membership(foreign.owner, Role::Viewer))
                .await
                .unwrap();
            assert_eq!(owner_b_in_a.tenant_id, a);
        }
        Op::GetApiKey => {
            assert!(tx.api_key(foreign.api_key.id).await.unwrap().is_none());
        }
        Op::ListApiKeys => {
            let all = tx.list_api_keys(Page::first(1000)).await.unwrap();
            assert!(!all.is_empty());
            assert!(
                all.iter()
                    .all(|k| k.tenant_id == a && k.id != foreign.api_key.id),
                "{all:?}"
            );
        }
        Op::RevokeApiKey => {
            assert!(!tx.revoke_api_key(foreign.api_key.id, at(1)).await.unwrap());
        }
        Op::TouchApiKey => {
            assert!(!tx.touch_api_key(foreign.api_key.id, at(1)).await.unwrap());
        }
        Op::InsertApiKeyWithForeignHash => {
            let mut key = fixtures::api_key("copy", None);
            key.key_hash = foreign.api_key.key_hash;
            key.id = foreign.api_key.id;
            let inserted = tx.insert_api_key(key).await.unwrap();
            assert_eq!(inserted.tenant_id, a);
        }
        Op::GetInvitation => {
            assert!(
                tx.invitation(foreign.invitation.id)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::ListInvitations => {
            let all = tx.list_invitations(Page::first(1000)).await.unwrap();
            assert!(!all.is_empty());
            assert!(
                all.iter()
                    .all(|i| i.tenant_id == a && i.id != foreign.invitation.id),
                "{all:?}"
            );
        }
        Op::AcceptInvitation => {
            assert!(
                !tx.accept_invitation(InvitationAcceptance {
                    invitation: foreign.invitation.id,
                    user: foreign.outsider,
                    at: at(1)
                })
                .await
                .unwrap()
            );
        }
        Op::DeleteInvitation => {
            assert!(!tx.delete_invitation(foreign.invitation.id).await.unwrap());
        }
        Op::InsertInvitationWithForeignToken => {
            let mut invitation = fixtures::invitation("copy@example.com", 60);
            invitation.token_hash = foreign.invitation.token_hash;
            invitation.id = foreign.invitation.id;
            let inserted = tx.insert_invitation(invitation).await.unwrap();
            assert_eq!(inserted.tenant_id, a);
            assert_eq!(inserted.token_hash, hash_of("b-guest@example.com"));
        }
        Op::ListAudit => {
            let all = tx
                .list_audit(AuditQuery {
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap();
            // "a.only" and its note's creation.
            assert_eq!(all.len(), 2);
            assert!(all.iter().all(|e| e.tenant_id == Some(a)), "{all:?}");
            let by_b_owner = AuditQuery {
                actor_id: Some(*foreign.owner.as_uuid()),
                limit: 100,
                ..Default::default()
            };
            assert!(tx.list_audit(by_b_owner).await.unwrap().is_empty());
        }
        Op::ReadAuditChain => {
            let chain = tx.audit_chain(0, 1000).await.unwrap();
            assert_eq!(chain.len(), 2);
            assert!(chain.iter().all(|e| e.tenant_id == Some(a)), "{chain:?}");
            assert!(tx.audit_chain(2, 1000).await.unwrap().is_empty());
        }
        Op::EraseAuditPersonal => {
            assert!(
                !tx.erase_audit_personal(foreign.audit_seq_only_in_b)
                    .await
                    .unwrap()
            );
        }
        Op::AppendAudit => {
            let entry = tx
                .append_audit(fixtures::audit("a.more", None))
                .await
                .unwrap();
            // A has "a.only" and its note's creation.
            assert_eq!(
                (entry.tenant_id, entry.seq),
                (Some(a), 3),
                "A's chain continues from A's own last entry"
            );
        }
        Op::GetCollection => {
            assert!(tx.collection(B_ONLY_COLLECTION).await.unwrap().is_none());
            assert!(
                tx.collection_schema(B_ONLY_COLLECTION)
                    .await
                    .unwrap()
                    .is_none()
            );
            let own = tx.collection(SHARED_COLLECTION).await.unwrap().unwrap();
            assert_eq!(own.tenant_id, a);
            let own_schema = tx.collection_schema(SHARED_COLLECTION).await.unwrap();
            assert_eq!(
                own_schema.map(|text| serde_json::from_str::<serde_json::Value>(&text).unwrap()),
                Some(own.schema)
            );
        }
        Op::ListCollections => {
            let all = tx.list_collections().await.unwrap();
            assert_eq!(
                all.iter()
                    .map(|c| (c.tenant_id, c.name.as_str()))
                    .collect::<Vec<_>>(),
                vec![(a, SHARED_COLLECTION)]
            );
        }
        Op::UpdateCollection => {
            for version in [1, 2, 3] {
                let write = tx
                    .update_collection(fixtures::collection_change(
                        B_ONLY_COLLECTION,
                        &notes_schema(),
                        version,
                        at(1),
                    ))
                    .await
                    .unwrap();
                assert_eq!(
                    write,
                    Write::NotFound,
                    "B's collection at version {version}"
                );
            }
            let own = tx.collection(SHARED_COLLECTION).await.unwrap().unwrap();
            let mut schema = notes_schema();
            schema["fields"][1]["type"] = json!("json");
            match tx
                .update_collection(fixtures::collection_change(
                    SHARED_COLLECTION,
                    &schema,
                    own.version,
                    at(1),
                ))
                .await
                .unwrap()
            {
                Write::Done(updated) => {
                    assert_eq!(updated.tenant_id, a);
                    assert_eq!(updated.schema, schema);
                }
                other => panic!("A's own collection: {other:?}"),
            }
        }
        Op::InsertCollectionWithForeignName => {
            let inserted = tx
                .insert_collection(fixtures::collection(
                    B_ONLY_COLLECTION,
                    secrets_schema(),
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!((inserted.tenant_id, inserted.version), (a, 1));
        }
        Op::EnsureRecordIndex => {
            let fields = [("slug".to_owned(), FieldType::Text { max_len: None })];
            tx.ensure_record_index(&fields).await.unwrap();
            let fields = [("code".to_owned(), FieldType::Text { max_len: None })];
            tx.ensure_record_index(&fields).await.unwrap();
        }
        Op::GetRecord => {
            for record in [&foreign.note_1, &foreign.note_2, &foreign.secret] {
                assert!(
                    tx.record(&record.collection, record.id)
                        .await
                        .unwrap()
                        .is_none()
                );
            }
            assert!(
                tx.record(SHARED_COLLECTION, foreign.a_note.id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        Op::ListRecords => {
            let all = tx
                .list_records(SHARED_COLLECTION, &all_records())
                .await
                .unwrap();
            assert_eq!(
                all.iter().map(|r| (r.tenant_id, r.id)).collect::<Vec<_>>(),
                vec![(a, foreign.a_note.id)]
            );
            assert!(
                tx.list_records(B_ONLY_COLLECTION, &all_records())
                    .await
                    .unwrap()
                    .is_empty()
            );
            // Aimed at B's ids and owner, a filter and an owner find nothing.
            let by_id = RecordQuery {
                filter: Some(TypedExpr::In {
                    field: FieldRef::System(SystemField::Id),
                    values: [&foreign.note_1, &foreign.note_2, &foreign.secret]
                        .iter()
                        .map(|r| TypedValue::Uuid(*r.id.as_uuid()))
                        .collect(),
                }),
                ..all_records()
            };
            for collection in [SHARED_COLLECTION, B_ONLY_COLLECTION] {
                assert!(
                    tx.list_records(collection, &by_id)
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
            let by_owner = RecordQuery {
                owner: Some(foreign.owner),
                ..all_records()
            };
            assert!(
                tx.list_records(SHARED_COLLECTION, &by_owner)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        Op::UniqueValueHolder => {
            for (collection, field, value) in &PROBED_UNIQUE_VALUES[..3] {
                assert!(
                    tx.unique_value_holder(collection, field, value)
                        .await
                        .unwrap()
                        .is_none(),
                    "{collection}.{field} = {value}"
                );
            }
            assert_eq!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "a-only")
                    .await
                    .unwrap(),
                Some(foreign.a_note.id)
            );
        }
        Op::InsertRecord => {
            // B's id and B's unique value are A's to use in A.
            let inserted = tx
                .insert_record(fixtures::record(
                    SHARED_COLLECTION,
                    foreign.note_1.id,
                    None,
                    json!({"slug": "b-first", "body": "copied by a"}),
                    &[("slug", "b-first")],
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!((inserted.tenant_id, inserted.version), (a, 1));
            assert_eq!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap(),
                Some(foreign.note_1.id)
            );
            let secret = tx
                .insert_record(fixtures::record(
                    B_ONLY_COLLECTION,
                    foreign.secret.id,
                    None,
                    json!({"code": "b-secret"}),
                    &[("code", "b-secret")],
                    at(1),
                ))
                .await
                .unwrap();
            assert_eq!(secret.tenant_id, a);
        }
        Op::UpdateRecord => {
            // B's record is missing to A whatever version it names: a
            // version mismatch would tell A that it exists.
            for expected_version in [None, Some(1), Some(2)] {
                let write = tx
                    .update_record(RecordChange {
                        collection: SHARED_COLLECTION.into(),
                        id: foreign.note_2.id,
                        expected_version,
                        data: json!({"slug": "b-second", "body": "changed by a"}),
                        unique_values: fixtures::unique_values(&[("slug", "b-second")]),
                        at: at(2),
                    })
                    .await
                    .unwrap();
                assert_eq!(write, Write::NotFound, "{expected_version:?}");
            }
        }
        Op::DeleteRecord => {
            for expected_version in [None, Some(1), Some(2)] {
                let write = tx
                    .delete_record(SHARED_COLLECTION, foreign.note_2.id, expected_version)
                    .await
                    .unwrap();
                assert_eq!(write, Write::NotFound, "{expected_version:?}");
            }
        }
        Op::ClaimIdempotencyKey => {
            // B's key with B's request is new in A: no replay of B's answer.
            let claim = tx
                .claim_idempotency_key("b-key-1", &hash_of("b-request-1"), at(2))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::New);
            tx.complete_idempotency_key("b-key-1", 409, &json!({"tenant": "a"}))
                .await
                .unwrap();
        }
        Op::CompleteIdempotencyKey => {
            // B's key with another request is new in A too (a mismatch would
            // tell A that B used it), and A's answer lands in A.
            let claim = tx
                .claim_idempotency_key("b-key-2", &hash_of("a-other-request"), at(3))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::New);
            let body = json!({"tenant": "a", "key": "b-key-2"});
            tx.complete_idempotency_key("b-key-2", 202, &body)
                .await
                .unwrap();
            let claim = tx
                .claim_idempotency_key("b-key-2", &hash_of("a-other-request"), at(3))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::Replay { status: 202, body });
        }
        Op::SweepIdempotencyKeys => {
            // A's own three keys (seeded, and the two above) go; B's, older
            // than the cutoff too, are not A's to sweep.
            let swept = tx.sweep_idempotency_keys(at(60), 100).await.unwrap();
            assert_eq!(swept, 3);
            assert_eq!(tx.sweep_idempotency_keys(at(60), 100).await.unwrap(), 0);
            let claim = tx
                .claim_idempotency_key("a-key", &hash_of("a-request"), at(4))
                .await
                .unwrap();
            assert_eq!(claim, IdempotencyClaim::New, "A's seeded key was swept");
        }
        Op::AppendRecordChange => {
            let event = fixtures::record_event(
                SHARED_COLLECTION,
                foreign.note_2.id,
                EventKind::Delete,
                Some(foreign.owner),
                json!({"tenant": "a"}),
                at(3),
            );
            let audit = fixtures::change_audit(&event);
            let (event, entry) = tx.append_record_change(event, audit).await.unwrap();
            // After A's three entries (AppendAudit ran before).
            assert_eq!(
                (event.tenant_id, event.seq, entry.tenant_id, entry.seq),
                (a, 4, Some(a), 4),
                "A's events and entries continue from A's own last entry"
            );
        }
        Op::RecordEventPosition => {
            // A's own newest entry (4), not B's (6).
            assert_eq!(tx.record_event_position().await.unwrap(), 4);
        }
        Op::RecordEventsAfter => {
            let events = tx.record_events_after(0, 1000).await.unwrap();
            assert_eq!(
                events
                    .iter()
                    .map(|e| (e.tenant_id, e.seq, e.payload.clone()))
                    .collect::<Vec<_>>(),
                vec![
                    (a, 2, json!({"tenant": "a"})),
                    (a, 4, json!({"tenant": "a"}))
                ]
            );
            assert!(tx.record_events_after(4, 1000).await.unwrap().is_empty());
        }
        Op::RemoveRecordField => {
            // A's copy of B's unique value goes; B's records keep `slug`.
            tx.remove_record_field(SHARED_COLLECTION, "slug")
                .await
                .unwrap();
            assert!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap()
                    .is_none()
            );
            let query = bulkhead_store::RecordQuery {
                limit: 1000,
                ..Default::default()
            };
            let left = tx.list_records(SHARED_COLLECTION, &query).await.unwrap();
            assert!(
                left.iter()
                    .all(|r| r.tenant_id == a && r.data.field("slug").is_none()),
                "{left:?}"
            );
        }
        Op::DeleteCollection => {
            // A's `notes` goes with its records; B's `notes` stays.
            assert!(tx.delete_collection(SHARED_COLLECTION).await.unwrap());
            assert!(!tx.delete_collection(SHARED_COLLECTION).await.unwrap());
            assert!(tx.delete_collection(B_ONLY_COLLECTION).await.unwrap());
            assert!(!tx.delete_collection("never_existed").await.unwrap());
            assert!(
                tx.unique_value_holder(SHARED_COLLECTION, "slug", "b-first")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::GetLedgerAccount => {
            assert!(
                tx.ledger_account(foreign.b_wallet, fixtures::t0())
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                tx.ledger_account(foreign.b_house, fixtures::t0())
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        Op::ListLedgerAccounts => {
            let all = LedgerAccountQuery {
                owner: None,
                after: None,
                limit: 1000,
                now: at(0),
            };
            let accounts = tx.ledger_accounts(&all).await.unwrap();
            assert_eq!(accounts.len(), 2, "{accounts:?}");
            assert!(
                accounts
                    .iter()
                    .any(|account| account.id == foreign.a_wallet)
            );
            let of_b_owner = LedgerAccountQuery {
                owner: Some(foreign.owner),
                ..all
            };
            assert!(tx.ledger_accounts(&of_b_owner).await.unwrap().is_empty());
        }
        Op::ListLedgerPostings => {
            for account in [foreign.b_wallet, foreign.b_house] {
                let query = PostingQuery {
                    account,
                    before_seq: None,
                    limit: 1000,
                };
                assert!(tx.ledger_postings(&query).await.unwrap().is_empty());
                let far = at(1_000_000);
                assert_eq!(tx.ledger_balance_at(account, far).await.unwrap(), (0, 0));
            }
        }
        Op::PostTransferAcrossTenants => {
            let from_b = fixtures::transfer(foreign.b_wallet, foreign.a_wallet, 100);
            assert_eq!(
                tx.post_transfer(from_b).await.unwrap(),
                Err(TransferRefusal::FromNotFound)
            );
            let to_b = fixtures::transfer(foreign.a_wallet, foreign.b_wallet, 100);
            assert_eq!(
                tx.post_transfer(to_b).await.unwrap(),
                Err(TransferRefusal::ToNotFound)
            );
            // B's transfer id is A's to use in A.
            let mut reused = fixtures::transfer(foreign.a_wallet, foreign.a_wallet, 1);
            reused.id = foreign.b_transfer;
            let house = tx
                .insert_ledger_account(fixtures::ledger_account("a-house", "USD", None, true))
                .await
                .unwrap();
            reused.from = house.id;
            let posted = tx.post_transfer(reused).await.unwrap().unwrap();
            assert_eq!(posted.to_balance, 701);
        }
        Op::HoldAcrossTenants => {
            let on_b = fixtures::hold(foreign.b_wallet, 10, 60);
            assert_eq!(
                tx.place_hold(on_b).await.unwrap(),
                Err(HoldRefusal::AccountNotFound)
            );
            assert!(tx.ledger_hold(foreign.b_hold).await.unwrap().is_none());
            for capture in [false, true] {
                let settle = SettleHold {
                    hold: foreign.b_hold,
                    at: at(1),
                    capture: capture.then(|| Capture {
                        amount: None,
                        transfer: bulkhead_domain::TransferId::new(),
                        to: foreign.a_wallet,
                        memo: None,
                        caps: Caps::NONE,
                    }),
                };
                assert_eq!(
                    tx.settle_hold(settle).await.unwrap(),
                    Err(SettleRefusal::HoldNotFound)
                );
            }
        }
        Op::LimitProfileWithForeignName => {
            assert!(tx.limit_profiles().await.unwrap().is_empty());
            assert!(tx.limit_profile("b-only").await.unwrap().is_none());
            let mine = fixtures::limit_profile("b-only", Some("1"));
            tx.put_limit_profile(mine.clone()).await.unwrap();
            assert_eq!(tx.limit_profiles().await.unwrap(), vec![mine]);
        }
        Op::ChargeAcrossTenants => {
            let on_b = fixtures::charge(foreign.b_wallet, foreign.a_house, 10);
            assert_eq!(
                tx.record_charge(on_b).await.unwrap(),
                Err(TransferRefusal::FromNotFound)
            );
            let to_b = fixtures::charge(foreign.a_wallet, foreign.b_house, 10);
            assert_eq!(
                tx.record_charge(to_b).await.unwrap(),
                Err(TransferRefusal::ToNotFound)
            );
            assert!(tx.ledger_charge(foreign.b_charge).await.unwrap().is_none());
            assert!(
                tx.ledger_charges(foreign.b_wallet, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            // B's charge id is A's to use in A (an amount of 0 leaves A's
            // balances as the later operations expect them).
            let mut reused = fixtures::charge(foreign.a_wallet, foreign.a_house, 1);
            reused.id = foreign.b_charge;
            reused.amount = 0;
            let charge = tx.record_charge(reused).await.unwrap().unwrap();
            assert_eq!(
                tx.ledger_charge(foreign.b_charge).await.unwrap(),
                Some(charge)
            );
        }
        Op::InsertLedgerAccountWithForeignId => {
            let mut copy = fixtures::ledger_account("copy", "USD", Some(foreign.owner), false);
            copy.id = foreign.b_wallet;
            let account = tx.insert_ledger_account(copy).await.unwrap();
            assert_eq!(account.balance, 0);
            let pay = fixtures::transfer(foreign.a_wallet, foreign.b_wallet, 50);
            let posted = tx.post_transfer(pay).await.unwrap().unwrap();
            assert_eq!((posted.from_balance, posted.to_balance), (651, 50));
            assert_eq!(
                tx.ledger_account(foreign.b_wallet, fixtures::t0())
                    .await
                    .unwrap()
                    .unwrap()
                    .balance,
                50
            );
        }
        Op::ReadUsage => {
            // What the earlier operations of the table did to A is counted
            // (they committed), and what A holds is what its usage says.
            let usage = tx.usage().await.unwrap();
            let members = tx.list_memberships(Page::first(1000)).await.unwrap();
            let keys = tx.list_api_keys(Page::first(1000)).await.unwrap();
            let collections = tx.list_collections().await.unwrap();
            let mut records = 0;
            for collection in &collections {
                records += tx
                    .list_records(&collection.name, &all_records())
                    .await
                    .unwrap()
                    .len();
            }
            let live_keys = keys.iter().filter(|k| k.revoked_at.is_none()).count();
            assert_eq!(
                (
                    usage.members,
                    usage.api_keys,
                    usage.collections,
                    usage.records
                ),
                (
                    members.len() as u64,
                    live_keys as u64,
                    collections.len() as u64,
                    records as u64
                ),
                "A's usage counts A's rows"
            );
        }
        Op::ReadMeteredUse => {
            // A's own flush of 3 requests and 1 record by its owner and
            // the shared user, in the hour B has 7 and 2 by its own.
            let (hour, day) = (hour_of(at(0)), day_of(at(0)));
            let hours = tx.usage_hours(at(-60 * 24), at(60 * 24)).await.unwrap();
            assert_eq!(
                hours,
                vec![UsageHour {
                    hour,
                    requests: 3,
                    records_created: 1
                }]
            );
            let days = tx
                .usage_days(day.previous_day().unwrap(), day.next_day().unwrap())
                .await
                .unwrap();
            assert_eq!(days.len(), 1, "{days:?}");
            assert_eq!(
                (days[0].day, days[0].requests, days[0].records_created),
                (day, 3, 1)
            );
            assert_eq!(days[0].active_users, 2);
            let before = tx.usage_day_before(day.next_day().unwrap()).await.unwrap();
            assert_eq!(before, Some(days[0]));
            assert_eq!(tx.usage_day_before(day).await.unwrap(), None);
            let mut users = vec![foreign.a_owner, foreign.shared];
            users.sort();
            assert_eq!(tx.metered_users(day).await.unwrap(), users);
        }
        Op::AddMeteredUse => {
            let (hour, day) = (hour_of(at(0)), day_of(at(0)));
            // B's owner and the outsider are new to A's day, the shared
            // user is not (B remembering them counts for nothing in A).
            let users = [foreign.owner, foreign.shared, foreign.outsider];
            tx.add_metered_use(&fixtures::metered_use(at(0), 10, 4, &users))
                .await
                .unwrap();
            let hours = tx.usage_hours(hour, hour).await.unwrap();
            assert_eq!(
                (hours[0].requests, hours[0].records_created),
                (13, 5),
                "A's hour adds to A's"
            );
            let days = tx.usage_days(day, day).await.unwrap();
            assert_eq!((days[0].requests, days[0].records_created), (13, 5));
            assert_eq!(days[0].active_users, 4);
            assert_eq!(
                days[0].storage_bytes,
                tx.usage().await.unwrap().storage_bytes,
                "A's stored bytes"
            );
            // Forgetting A's users of the day leaves B's.
            let forget = MeteredUse {
                hours: Vec::new(),
                users: Vec::new(),
                forget_users_before: day.next_day().unwrap(),
            };
            tx.add_metered_use(&forget).await.unwrap();
            assert!(tx.metered_users(day).await.unwrap().is_empty());
            assert_eq!(tx.usage_days(day, day).await.unwrap(), days);
        }
        Op::DeleteTenant => {
            assert!(tx.delete_tenant().await.unwrap());
        }
    }
}

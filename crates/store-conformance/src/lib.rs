//! The store conformance suite: written once, run on every backend.
//!
//! A backend's test crate calls [`conformance_suite!`](crate::conformance_suite)
//! with an async function that returns a fresh, empty, migrated
//! [`TestStore`] (or `None` to skip, which that function must refuse under
//! CI). Each case gets its own database.
//!
//! The heart of it is [`isolation`]: for every operation of a tenant
//! transaction, a handle for tenant A is aimed at tenant B's rows and must
//! come back empty-handed, with B's data unchanged afterwards.
//!
//! [`cases`] holds the identity and access cases, [`records`] those of the
//! data plane (collections, records, unique values, idempotency keys,
//! record events and listing), which it checks against an in-memory
//! [`reference`] evaluation of filters and orders, and [`ledger`] those of
//! the ledger (accounts, transfers, postings, and their invariants under
//! concurrency), which [`ledger_model`] checks against a reference ledger
//! under random operations, [`quotas`] those of plans and the usage
//! their quotas are checked against, and [`metering`] those of metered
//! use (flushes adding up by hour and day, active users counted once). [`model`] runs random
//! sequences of record operations on two tenants against an in-memory model.
//! [`bench`] is what the backends' isolation benchmarks share, [`plans`]
//! the data their query-plan tests plan over.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed case"
)]

pub mod bench;
pub mod cases;
pub mod fixtures;
pub mod isolation;
pub mod ledger;
pub mod ledger_model;
pub mod metering;
pub mod model;
pub mod plans;
pub mod quotas;
pub mod records;
pub mod reference;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bulkhead_store::Store;

/// A fresh store for one test case.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    /// Every table with a `tenant_id` column, read from the database's own
    /// catalog, so a new tenant table cannot escape the isolation table.
    pub tenant_tables: Vec<String>,
    cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("store", &self.store)
            .field("tenant_tables", &self.tenant_tables)
            .finish_non_exhaustive()
    }
}

impl TestStore {
    pub fn new(store: Arc<dyn Store>, tenant_tables: Vec<String>) -> Self {
        Self {
            store,
            tenant_tables,
            cleanup: None,
        }
    }

    /// Work to run after a passing case (e.g. dropping its database).
    pub fn with_cleanup(mut self, cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cleanup = Some(Box::pin(cleanup));
        self
    }

    pub async fn finish(mut self) {
        self.store.close().await;
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.await;
        }
    }
}

/// Expands to one `#[tokio::test]` per conformance case. `$fresh` is an
/// async fn returning `Option<TestStore>`.
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:path) => {
        $crate::conformance_suite!(@cases $fresh; cases;
            tenants_are_created_read_renamed_and_deleted,
            tenant_slugs_are_unique_across_the_platform,
            users_are_unique_by_normalised_email,
            users_can_change_password_and_be_deactivated,
            memberships_are_created_listed_changed_and_removed,
            a_membership_needs_an_existing_user,
            memberships_of_user_lists_that_users_tenants_only,
            api_keys_are_created_listed_touched_and_revoked,
            api_key_hashes_are_unique_within_a_tenant_only,
            invitations_are_accepted_once_and_not_after_expiry,
            an_invitation_is_accepted_exactly_once_under_concurrency,
            audit_entries_form_a_verifiable_chain,
            concurrent_appends_to_one_tenant_form_one_gap_free_chain,
            audit_personal_data_can_be_erased_without_breaking_the_chain,
            audit_text_is_stored_exactly_whatever_it_holds,
            audit_lists_filter_and_page,
            sessions_rotate_their_token_atomically_and_revoke,
            a_refresh_token_rotates_exactly_once_under_concurrency,
            signing_keys_are_kept_newest_first_and_retired,
            dropping_a_transaction_rolls_it_back,
            a_failed_statement_aborts_the_whole_transaction,
            read_transactions_cannot_write,
            tenant_admins_list_and_search_tenants_and_suspend_them,
            deleting_a_tenant_removes_all_its_data_and_nothing_else,
            a_tenant_handle_never_reaches_another_tenants_rows,
            the_isolation_table_covers_every_tenant_table,
            members_are_listed_with_their_profiles,
            the_platform_audit_log_is_its_own_verifiable_chain,
            invalidations_reach_listeners_when_their_transaction_commits,
        );
        $crate::conformance_suite!(@cases $fresh; records;
            collections_are_created_read_listed_updated_and_deleted,
            collection_names_are_unique_within_a_tenant_only,
            deleting_a_collection_removes_its_records_and_unique_values_only,
            owner_lists_follow_changes_of_visibility,
            records_are_created_read_updated_and_deleted_with_versions,
            record_documents_round_trip_exactly,
            unique_values_are_enforced_per_tenant_collection_and_field,
            idempotency_keys_replay_their_first_answer,
            an_idempotency_key_is_claimed_once_under_concurrency,
            a_key_claimed_by_an_open_transaction_is_in_flight,
            idempotency_keys_older_than_the_cutoff_are_swept_oldest_first,
            record_events_are_numbered_by_their_audit_entries,
            record_events_are_numbered_apart_under_concurrency,
            record_filters_agree_with_the_reference_evaluation,
            record_sorts_and_keyset_pages_agree_with_the_reference_order,
            keyset_pages_stay_exact_while_records_change,
        );
        $crate::conformance_suite!(@cases $fresh; ledger;
            ledger_accounts_are_opened_read_and_listed,
            transfers_move_money_in_balanced_postings,
            a_refused_transfer_writes_nothing,
            concurrent_debits_never_overdraw_an_account,
            transfers_both_ways_between_a_pair_all_post,
            a_house_account_is_opened_once_per_currency_and_scale,
            holds_reserve_until_captured_released_or_expired,
            limit_caps_hold_per_transfer_day_and_month,
            limit_profiles_are_stored_and_replaced,
            charges_debit_the_marked_up_cost_to_the_house,
            a_refused_charge_writes_nothing,
            the_charge_markup_is_the_tenants_and_set_by_the_platform,
        );
        $crate::conformance_suite!(@cases $fresh; quotas;
            plans_are_stored_changed_and_assigned,
            usage_counts_every_write_and_takes_back_what_is_deleted,
            a_quota_refuses_the_whole_commit_that_grows_it_past_the_limit,
            creates_at_a_quotas_edge_under_concurrency_admit_exactly_what_remains,
            every_quota_admits_exactly_what_remains_under_concurrency,
        );
        $crate::conformance_suite!(@cases $fresh; metering;
            metered_use_adds_up_by_hour_and_day_across_flushes,
            a_flush_of_many_users_counts_each_once,
            concurrent_flushes_of_one_day_add_up,
        );
        $crate::conformance_suite!(@cases $fresh; ledger_model;
            the_ledger_matches_a_reference_model_under_random_operations,
        );
        $crate::conformance_suite!(@cases $fresh; model;
            records_match_an_in_memory_model_under_random_operations,
        );
    };
    (@cases $fresh:path; $module:ident; $($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let Some(test_store) = $fresh().await else { return };
            $crate::$module::$case(&test_store).await;
            test_store.finish().await;
        }
    )*};
}

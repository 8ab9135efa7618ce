//! The one contract suite every backend runs, so SQLite and PostgreSQL are proven to
//! behave the same. A backend's integration test invokes [`store_contract_tests!`] with an
//! async setup function returning a [`StoreUnderTest`]; the macro expands to one
//! `#[tokio::test]` per case (the `pub async fn`s of the submodules, re-exported here), so a
//! failure names the case.
//!
//! ```ignore
//! async fn setup() -> StoreUnderTest { /* open a fresh, empty store */ }
//! sealtrail_testkit::store_contract_tests!(setup);
//! ```

// A test suite may unwrap: a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod accounts;
pub mod directory;
pub mod erasure;
pub mod erasure_scope;
pub mod event_time;
pub mod filters;
pub mod fixtures;
pub mod integrity;
pub mod jobs;
pub mod limits;
pub mod log;
pub mod paging;
pub mod retention;
pub mod schemas;
pub mod sinks;
pub mod timeline;

pub use accounts::*;
pub use directory::*;
pub use erasure::*;
pub use erasure_scope::*;
pub use event_time::*;
pub use filters::*;
pub use integrity::*;
pub use jobs::*;
pub use limits::*;
pub use log::*;
pub use paging::*;
pub use retention::*;
pub use schemas::*;
pub use sinks::*;
pub use timeline::*;

use sealtrail_store::Store;
use std::any::Any;
use std::sync::Arc;

/// A fresh, empty store plus whatever keeps it alive (temporary directory, server handle).
pub struct StoreUnderTest {
    /// The store the cases exercise.
    pub store: Arc<dyn Store>,
    /// Dropped after the case, never used: temp dirs, containers, child processes.
    pub guard: Box<dyn Any + Send + Sync>,
}

/// Expands to one `#[tokio::test]` per contract case, each on a fresh store from `$setup`
/// (an `async fn() -> StoreUnderTest`).
#[macro_export]
macro_rules! store_contract_tests {
    ($setup:path) => {
        $crate::store_contract_tests!(@cases $setup;
            append_assigns_gapless_seq_in_request_order,
            append_to_an_unknown_tenant_is_not_found,
            get_round_trips_every_field,
            idempotent_retries_return_the_original,
            every_filter_field_matches_the_dataset,
            action_prefix_matches_whole_segments,
            actor_filter_matches_ids_and_emails,
            system_filter_selects_every_non_person_and_merges_no_one,
            property_filters_compare_scalars_as_text,
            property_filters_accept_hostile_keys,
            text_search_matches_words_and_text_inside_them,
            hostile_search_syntax_never_errors,
            cursor_pages_cover_every_match_once_while_appending,
            previous_page_cursor_returns_the_page_before,
            text_pages_are_exact_however_dense_the_matches,
            count_equals_what_the_pages_yield,
            event_time_periods_find_late_and_imported_entries,
            tallies_count_every_entry_by_hour_day_and_outcome,
            facets_count_values_present,
            actors_beyond_the_list_are_found_by_search,
            tenants_are_isolated,
            tenants_create_conflict_and_lookup,
            api_keys_insert_list_and_revoke,
            api_keys_come_with_their_tenants_settings,
            text_lookups_with_nul_find_nothing,
            concurrent_appends_are_acknowledged_once_and_gapless,
            health_is_ok,
            tree_head_matches_an_independent_tree,
            entries_read_back_equal_what_was_appended,
            every_inclusion_proof_verifies,
            inclusion_proofs_together_equal_each_alone,
            every_consistency_proof_verifies,
            checkpoints_refuse_equivocation,
            checkpoint_batches_answer_each_item,
            cosignatures_are_added_to_a_recorded_checkpoint,
            tree_levels_are_the_complete_subtrees,
            tile_access_is_a_setting_per_tenant,
            log_sizes_list_every_tenant,
            prune_removes_old_entries_and_keeps_proofs,
            prune_in_chunks_removes_exactly_the_old_entries,
            legal_hold_blocks_prune,
            retention_has_a_floor,
            default_period_is_a_preset_per_tenant,
            export_exclusions_are_per_tenant_and_validated,
            erasure_replaces_the_subject_everywhere,
            erasing_an_unknown_subject_changes_nothing,
            erasing_a_short_id_leaves_other_entries_byte_identical,
            a_subject_known_only_as_a_target_is_erased_there,
            erasure_dry_run_predicts_exactly_what_changes,
            users_round_trip_every_field,
            user_emails_are_unique_per_tenant,
            users_are_isolated_by_tenant,
            user_role_changes_are_stored,
            password_change_ends_the_users_sessions,
            deactivation_is_kept_once_and_ends_sessions,
            the_last_active_owner_is_kept,
            concurrent_owner_removals_keep_an_owner,
            sessions_round_trip_and_end,
            expired_sessions_are_deleted_by_time,
            sessions_need_an_existing_user,
            ip_allowlist_is_normalised_and_per_tenant,
            cors_origins_are_normalised_and_per_tenant,
            ip_allowlist_leaves_other_settings_alone,
            limits_default_validate_and_stay_per_tenant,
            entries_since_counts_by_recorded_time,
            tenant_aliases_name_one_tenant_each,
            action_schemas_are_versioned_per_tenant_and_action,
            concurrent_schema_registrations_never_share_a_version,
            sink_cursors_move_only_forward_from_where_delivery_started,
            sinks_are_each_tenants_own,
            sinks_are_leased_to_one_node_at_a_time,
            a_sinks_format_and_credential_are_kept_exactly,
            export_jobs_run_once_and_serve_their_file_from_the_store,
            export_jobs_of_silent_nodes_are_taken_over_and_expire,
            sign_in_attempts_are_counted_once_for_everyone,
            an_erasure_withdraws_the_tenants_exports,
            an_erasure_rewrites_the_subject_out_of_job_records,
        );
    };
    (@cases $setup:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let under_test: $crate::contract::StoreUnderTest = $setup().await;
                $crate::contract::$case(under_test.store.clone()).await;
                drop(under_test);
            }
        )*
    };
}

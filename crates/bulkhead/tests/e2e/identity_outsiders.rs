//! Outsiders knocking on a tenant (issue 17, defect 6): a signed-in
//! non-member, an anonymous caller and a non-admin on an admin route leave
//! no entry in the tenant's log, get the answer a missing tenant gets, and
//! are summarised in the platform's log: one entry per actor, action and
//! reason per window, with the count.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Instant;

use bulkhead_client::Method;
use serde_json::Value;

use crate::harness::{TestServer, expect_problem, request};
use crate::support::assert_success;

/// Entries per chain from `bulkhead audit verify`: `"platform"` and each
/// tenant's id.
fn chain_lengths(output: &Output) -> BTreeMap<String, u64> {
    let stdout = assert_success(output);
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("ok ")?;
            let (name, count) = rest.split_once(": ")?;
            let n = count.strip_suffix(" entries")?.parse().ok()?;
            Some((name.trim_start_matches("tenant ").to_owned(), n))
        })
        .collect()
}

/// The `denied attempts` summaries in the server's JSON log.
fn summaries(logs: &str) -> Vec<(Value, Value)> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "denied attempts")
        .map(|line| {
            let details: Value =
                serde_json::from_str(line["fields"]["details"].as_str().unwrap()).unwrap();
            (line["fields"].clone(), details)
        })
        .collect()
}

const N_PROBES: u64 = 150;

async fn outsiders_leave_no_entries_in_a_tenants_log(server: TestServer) {
    let started = Instant::now();
    let owner = server.signup("owner@example.com").await;
    let tenant = server.create_tenant(&owner, "secret-corp").await;
    let stranger = server.signup("stranger@example.com").await;
    let before = chain_lengths(&server.cli(&["audit", "verify"]).await);
    let tenant_key = tenant.id.to_string();
    assert!(before.contains_key(&tenant_key), "{before:?}");

    for n in 0..N_PROBES {
        let at_existing = stranger
            .send(Method::GET, "/v1/tenants/secret-corp/members", None)
            .await;
        let at_missing = stranger
            .send(Method::GET, "/v1/tenants/no-such-corp/members", None)
            .await;
        expect_problem(&at_existing, 404, "tenant_not_found");
        assert_eq!(
            (at_existing.status, at_existing.text()),
            (at_missing.status, at_missing.text()),
            "probe {n}: an existing tenant answers unlike a missing one"
        );
        let anonymous = request(
            &server.anon,
            Method::GET,
            "/v1/tenants/secret-corp/members",
            None,
        )
        .await;
        expect_problem(&anonymous, 401, "unauthenticated");
        let admin_route = stranger.send(Method::GET, "/v1/admin/tenants", None).await;
        expect_problem(&admin_route, 403, "forbidden");
    }
    let during = chain_lengths(&server.cli(&["audit", "verify"]).await);
    assert_eq!(
        during[&tenant_key], before[&tenant_key],
        "outsiders' requests wrote into the tenant's log"
    );

    let elapsed = started.elapsed();
    let ((status, logs, stderr), verify) = server.stop_then_cli(&["audit", "verify"]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    let after = chain_lengths(&verify);
    assert_eq!(after[&tenant_key], before[&tenant_key]);
    // Three groups (the stranger on the tenant, the stranger on the admin
    // route, the anonymous caller), summarised once a minute and at
    // shutdown.
    let n_windows = elapsed.as_secs() / 60 + 2;
    let added = after["platform"] - before["platform"];
    assert!(
        (3..=3 * n_windows).contains(&added),
        "{added} platform entries for {} denied requests",
        4 * N_PROBES
    );

    let summaries = summaries(&logs);
    let count = |action: &str, reason: &str, actor: Option<String>| -> u64 {
        summaries
            .iter()
            .filter(|(fields, details)| {
                fields["action"] == action
                    && details["reason"] == reason
                    && fields["actor_id"].as_str().map(str::to_owned) == actor
            })
            .map(|(_, details)| details["n_attempts"].as_u64().unwrap())
            .sum()
    };
    let stranger_id = Some(stranger.id().to_string());
    assert_eq!(
        count("tenant.access", "not_a_member", stranger_id.clone()),
        2 * N_PROBES,
        "{summaries:?}"
    );
    assert_eq!(
        count("tenant.access", "unauthenticated", None),
        N_PROBES,
        "{summaries:?}"
    );
    assert_eq!(
        count("admin.tenants.list", "not_platform_admin", stranger_id),
        N_PROBES,
        "{summaries:?}"
    );
    let targets: Vec<&Value> = summaries
        .iter()
        .filter(|(fields, _)| fields["action"] == "tenant.access")
        .flat_map(|(_, details)| details["targets"].as_array().unwrap())
        .collect();
    assert!(
        targets.contains(&&Value::String(tenant_key.clone())),
        "the summary names the tenant aimed at: {targets:?}"
    );
}
scenario!(outsiders_leave_no_entries_in_a_tenants_log);

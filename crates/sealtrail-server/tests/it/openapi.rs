//! The OpenAPI document: served, in step with the routes, and fuzzed by schemathesis against
//! a live server, whose every answer must be documented and match its documented schema.

use crate::common::{event, TestServer};
use serde_json::{json, Value};
use std::process::Command;

/// Schemathesis's command line, run from the Python that `.ci/run` installs it into.
const SCHEMATHESIS: &str =
    "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())";

/// Examples per operation and phase: enough to reach each operation's refusals and its
/// success, small enough for the suite (about a minute for every operation).
const EXAMPLES: &str = "25";

/// The WorkOS organization id the fuzzed tenant answers to.
const ORGANIZATION: &str = "org_fuzz";

async fn document(s: &TestServer) -> Value {
    let answer = s
        .client
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "served without credentials");
    answer.json().await.unwrap()
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_operation_in_it_is_served() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Every route of the API is described (the page, tiles and witness protocols are not
    // this API's): a sample from each family, so a family lost whole is noticed.
    for path in [
        "/v1/events",
        "/v1/events/{id}",
        "/v1/export",
        "/v1/exports/{id}/download",
        "/v1/proof/consistency",
        "/v1/subjects/{subject}/erase",
        "/v1/settings/limits",
        "/v1/schemas/{action}",
        "/v1/tenant/aliases/{alias}",
        "/publisher/v1/project/{project}/event/bulk",
        "/viewer/v1/graphql",
        "/viewer/v1/project/{project}/export/{id}/rendered",
        "/audit_logs/events",
        "/organizations/{organization}/audit_logs_retention",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "{path} is not described");
    }
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace('{', "x").replace('}', "");
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = s
                .client
                .request(method.clone(), format!("{}{concrete}", s.url))
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is described but not routed");
            assert!(
                !body.contains("route not found"),
                "{method} {path} is described but not routed"
            );
            // Described security is enforced: without credentials the API's operations refuse.
            if path.starts_with("/v1/") {
                assert_eq!(status, 401, "{method} {path} without a key: {body}");
            }
        }
    }
    assert!(operations >= 50, "only {operations} operations described");
    // The shared refusals are described on every operation of the API, in its own shape.
    let list = &doc["paths"]["/v1/events"]["get"]["responses"];
    assert_eq!(
        list["401"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/ErrorResponse"
    );
    // Errors an operation describes itself are problem documents too.
    assert!(
        doc["paths"]["/v1/proof/inclusion"]["get"]["responses"]["400"]["content"]
            ["application/problem+json"]
            .is_object()
    );
    let workos = &doc["paths"]["/audit_logs/events"]["post"]["responses"];
    assert_eq!(
        workos["429"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WorkosErrorBody"
    );
    // The list's parameters are the filter table's.
    let names: Vec<&str> = doc["paths"]["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in sealtrail_core::filter::PARAMETERS {
        assert!(names.contains(&p.name), "{} is not described", p.name);
    }
}

/// Runs schemathesis over the operations `filters` select, with `header` as credentials;
/// returns its report when it found a failure.
fn fuzz(url: &str, header: &str, filters: &[&str]) -> Result<(), String> {
    // Schemathesis keeps a cache of what it found in its working directory: a scratch one.
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The project and organization in paths name the tenant, so requests get past "no such
    // project" to the operations themselves.
    let config = scratch.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!("[parameters]\n\"path.project\" = \"default\"\n\"path.organization\" = \"{ORGANIZATION}\"\n"),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new("python3")
        .current_dir(scratch.path())
        .args(["-c", SCHEMATHESIS, "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(format!("{url}/openapi.json"))
        .args(["--url", url, "-H", header])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,ignored_auth",
        ])
        // The stateful phase follows links it infers between operations; one of them would
        // revoke the fuzzer's own key. The other phases reach every operation.
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", EXAMPLES, "--seed", "20261205"])
        .args(["--generation-deterministic", "--no-color"])
        .args(filters)
        .output()
        .map_err(|e| {
            format!("schemathesis does not run ({e}): `python3 -m pip install schemathesis==4.32.5` (.ci/run does)")
        })?;
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(report)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    let s = TestServer::start().await;
    s.lift_limits().await;
    // Something to read, and a project/organization name for the compatible APIs.
    let stored = s
        .post_events(
            &s.admin_key,
            &json!({"events": [event("member.invited", "ana"), event("invoice.paid", "ben")]}),
        )
        .await;
    assert_eq!(stored.status(), 200);
    let alias = s
        .client
        .post(format!("{}/v1/tenant/aliases", s.url))
        .bearer_auth(&s.admin_key)
        .json(&json!({ "alias": ORGANIZATION }))
        .send()
        .await
        .unwrap();
    assert_eq!(alias.status(), 201);
    let url = s.url.clone();
    let bearer = format!("Authorization: Bearer {}", s.admin_key);
    let token = format!("Authorization: token={}", s.admin_key);
    let report = tokio::task::spawn_blocking(move || {
        // Revoking keys and lowering limits would lock the fuzzer out of the rest of the run;
        // both have tests of their own (http_read, http_limits).
        fuzz(
            &url,
            &bearer,
            &[
                "--exclude-path-regex",
                "^/(publisher|viewer)/",
                "--exclude-operation-id",
                "revoke_key",
                "--exclude-operation-id",
                "set_limits",
            ],
        )?;
        fuzz(
            &url,
            &token,
            &["--include-path-regex", "^/(publisher|viewer)/"],
        )
    })
    .await
    .unwrap();
    if let Err(report) = report {
        panic!("schemathesis found answers the document does not describe:\n{report}");
    }
    // The server stayed whole: the events stored before are all still there and verify.
    let page = s
        .get_json(&s.admin_key, "/v1/events?action=invoice.paid&actor=ben")
        .await;
    assert_eq!(page["total"], 1);
}

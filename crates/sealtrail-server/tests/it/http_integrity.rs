//! Tamper evidence and lifecycle over real HTTP: signed checkpoints, inclusion and consistency
//! proofs checked with core's verifiers, `wait=checkpoint`, retention, legal hold, prune (410
//! for pruned ids) and erasure.

use crate::common::{event, expect_error, TestServer};
use reqwest::StatusCode;
use sealtrail_core::checkpoint::{Checkpoint, NoteVerifier};
use sealtrail_core::keys::Scope;
use sealtrail_core::merkle::{verify_consistency, verify_inclusion, Hash};
use sealtrail_core::Timestamp;
use sealtrail_store::PruneOrder;
use serde_json::{json, Value};

fn hash(v: &Value) -> Hash {
    hex::decode(v.as_str().expect("hex string"))
        .unwrap()
        .try_into()
        .unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

/// Opens a checkpoint JSON with the public key it names, checking the signature.
fn open_checkpoint(cp: &Value) -> Checkpoint {
    let verifier: NoteVerifier = cp["public_key"].as_str().unwrap().parse().unwrap();
    let opened = Checkpoint::open(cp["note"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!(opened.size, cp["size"].as_u64().unwrap());
    assert_eq!(opened.root, hash(&cp["root"]));
    opened
}

async fn post_json(
    s: &TestServer,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = s.client.post(format!("{}{path}", s.url)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn put_json(s: &TestServer, key: &str, path: &str, body: Value) -> reqwest::Response {
    s.client
        .put(format!("{}{path}", s.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn ingest(s: &TestServer, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| event("doc.updated", &format!("u{}", i % 3)))
        .collect();
    let r = s
        .post_events(&s.admin_key, &json!({ "events": events }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn sign_now(s: &TestServer) -> (Value, Checkpoint) {
    let r = post_json(s, &s.admin_key, "/v1/checkpoint", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let cp = open_checkpoint(&v);
    (v, cp)
}

#[tokio::test]
async fn every_entry_is_provably_in_the_signed_checkpoint_and_checkpoints_are_consistent() {
    let s = TestServer::start().await;
    ingest(&s, 20).await;
    let (_, first) = sign_now(&s).await;
    let size = s.get_json(&s.admin_key, "/v1/tenant").await;
    assert_eq!(Some(first.size), size["log_size"].as_u64(), "{size}");

    for seq in 0..first.size {
        let p = s
            .get_json(
                &s.admin_key,
                &format!("/v1/proof/inclusion?seq={seq}&size={}", first.size),
            )
            .await;
        verify_inclusion(
            seq,
            first.size,
            &hash(&p["leaf_hash"]),
            &hashes(&p["proof"]),
            &first.root,
        )
        .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
    }
    let latest = s.get_json(&s.admin_key, "/v1/checkpoint").await;
    assert!(latest["size"].as_u64().unwrap() >= first.size);

    ingest(&s, 13).await;
    let (_, second) = sign_now(&s).await;
    assert_eq!(second.size, first.size + 13);
    let c = s
        .get_json(
            &s.admin_key,
            &format!(
                "/v1/proof/consistency?old={}&new={}",
                first.size, second.size
            ),
        )
        .await;
    verify_consistency(
        first.size,
        second.size,
        &first.root,
        &second.root,
        &hashes(&c["proof"]),
    )
    .unwrap();
    assert_eq!(c["old_checkpoint"]["size"], first.size);

    // Default size: the latest checkpoint, whose note comes along.
    let p = s.get_json(&s.admin_key, "/v1/proof/inclusion?seq=3").await;
    let cp = open_checkpoint(&p["checkpoint"]);
    verify_inclusion(
        3,
        cp.size,
        &hash(&p["leaf_hash"]),
        &hashes(&p["proof"]),
        &cp.root,
    )
    .unwrap();
}

#[tokio::test]
async fn entry_detail_carries_its_inclusion_proof() {
    let s = TestServer::start().await;
    let ack: Value = s
        .post_events(&s.admin_key, &event("doc.created", "ada"))
        .await
        .json()
        .await
        .unwrap();
    sign_now(&s).await;
    let entry = s
        .get_json(
            &s.admin_key,
            &format!("/v1/events/{}", ack["id"].as_str().unwrap()),
        )
        .await;
    let integrity = &entry["integrity"];
    assert_eq!(integrity["status"], "included", "{entry}");
    let cp = open_checkpoint(&integrity["checkpoint"]);
    let seq = entry["seq"].as_u64().unwrap();
    verify_inclusion(
        seq,
        cp.size,
        &hash(&integrity["leaf_hash"]),
        &hashes(&integrity["inclusion_proof"]),
        &cp.root,
    )
    .unwrap();
}

#[tokio::test]
async fn wait_checkpoint_returns_a_signed_checkpoint_and_proofs_with_the_acknowledgement() {
    let s = TestServer::start().await;
    let r = post_json(
        &s,
        &s.admin_key,
        "/v1/events?wait=checkpoint",
        Some(event("doc.created", "ada")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ack: Value = r.json().await.unwrap();
    let cp = open_checkpoint(&ack["checkpoint"]);
    let seq = ack["seq"].as_u64().unwrap();
    assert!(cp.size > seq);
    verify_inclusion(
        seq,
        cp.size,
        &hash(&ack["leaf_hash"]),
        &hashes(&ack["inclusion_proof"]),
        &cp.root,
    )
    .unwrap();

    let batch = json!({ "events": [event("a.created", "u1"), { "action": "x" }, event("a.deleted", "u2")] });
    let r = post_json(&s, &s.admin_key, "/v1/events?wait=checkpoint", Some(batch)).await;
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let v: Value = r.json().await.unwrap();
    let cp = open_checkpoint(&v["checkpoint"]);
    for result in v["results"].as_array().unwrap() {
        if result["status"] == "created" {
            let seq = result["seq"].as_u64().unwrap();
            verify_inclusion(
                seq,
                cp.size,
                &hash(&result["leaf_hash"]),
                &hashes(&result["inclusion_proof"]),
                &cp.root,
            )
            .unwrap();
        } else {
            assert!(result.get("inclusion_proof").is_none());
        }
    }
    let bad = post_json(
        &s,
        &s.admin_key,
        "/v1/events?wait=forever",
        Some(event("a.b", "u")),
    )
    .await;
    expect_error(bad, StatusCode::BAD_REQUEST, "invalid_parameter").await;
}

#[tokio::test]
async fn proof_requests_are_validated_and_tenant_scoped() {
    let s = TestServer::start().await;
    ingest(&s, 5).await;
    let size = sign_now(&s).await.1.size;
    expect_error(
        s.get(&s.admin_key, "/v1/proof/inclusion").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(&s.admin_key, "/v1/proof/inclusion?seq=-1").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(&s.admin_key, "/v1/proof/inclusion?seq=1&sise=3")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(
            &s.admin_key,
            &format!("/v1/proof/inclusion?seq={size}&size={size}"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(
            &s.admin_key,
            &format!("/v1/proof/consistency?old=2&new={}", size + 100),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;

    // Another tenant has its own, much shorter log and its own origin.
    let (_, other) = s.tenant_with_key("other", &[Scope::Read]).await;
    let theirs = s.get_json(&other, "/v1/checkpoint").await;
    let theirs = open_checkpoint(&theirs);
    assert!(theirs.size < size);
    let ours = sign_now(&s).await.1;
    assert_ne!(theirs.origin, ours.origin);
    expect_error(
        s.get(
            &other,
            &format!("/v1/proof/inclusion?seq={}&size={size}", size - 1),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_error(
        s.get(&s.key(&[Scope::Ingest]).await, "/v1/checkpoint")
            .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}

#[tokio::test]
async fn retention_legal_hold_and_prune_are_admin_only_audited_and_keep_proofs_valid() {
    let s = TestServer::start().await;
    ingest(&s, 10).await;
    let settings = s.get_json(&s.admin_key, "/v1/settings").await;
    assert_eq!(
        settings,
        json!({
            "retention_days": 365,
            "legal_hold": false,
            "export_excluded_properties": [],
            "limits": {
                "requests_per_second_per_key": 500,
                "ingest_events_per_second": 5000,
                "daily_event_quota": null
            },
            "tile_access": "off",
            "default_period": null,
            "cors_origins": []
        })
    );
    let read = s.key(&[Scope::Read]).await;
    expect_error(
        post_json(&s, &read, "/v1/admin/prune", None).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;

    let too_short = put_json(
        &s,
        &s.admin_key,
        "/v1/settings/retention",
        json!({ "days": 10 }),
    )
    .await;
    let e = expect_error(
        too_short,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("30"), "{e}");
    let ok = put_json(
        &s,
        &s.admin_key,
        "/v1/settings/retention",
        json!({ "days": 30 }),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    let hold = put_json(
        &s,
        &s.admin_key,
        "/v1/settings/legal-hold",
        json!({ "hold": true }),
    )
    .await;
    assert_eq!(hold.status(), StatusCode::OK);
    expect_error(
        post_json(&s, &s.admin_key, "/v1/admin/prune", None).await,
        StatusCode::CONFLICT,
        "refused",
    )
    .await;
    put_json(
        &s,
        &s.admin_key,
        "/v1/settings/legal-hold",
        json!({ "hold": false }),
    )
    .await;
    let pruned: Value = post_json(&s, &s.admin_key, "/v1/admin/prune", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        pruned["removed"], 0,
        "fresh entries are inside a 30-day window"
    );
    for action in [
        "retention.changed",
        "legal_hold.placed",
        "legal_hold.lifted",
        "retention.pruned",
    ] {
        let v = s
            .get_json(&s.admin_key, &format!("/v1/events?action={action}"))
            .await;
        assert_eq!(v["total"], 1, "{action}");
    }

    // Prune for real (a cutoff in the future stands in for entries a year old).
    let (_, before) = sign_now(&s).await;
    let p0 = s
        .get_json(
            &s.admin_key,
            &format!("/v1/proof/inclusion?seq=0&size={}", before.size),
        )
        .await;
    let leaf0 = hash(&p0["leaf_hash"]);
    let first_entry = s.get_json(&s.admin_key, "/v1/events?limit=1000").await["entries"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    let tenant = s.store.tenant_by_name("default").await.unwrap().unwrap().id;
    let outcome = s
        .store
        .prune(
            tenant,
            &PruneOrder::at(Timestamp(Timestamp::now().millis() + 1000)),
        )
        .await
        .unwrap();
    assert!(outcome.removed >= 10);
    let gone = s
        .get(
            &s.admin_key,
            &format!("/v1/events/{}", first_entry["id"].as_str().unwrap()),
        )
        .await;
    expect_error(gone, StatusCode::GONE, "gone").await;
    let left = s.get_json(&s.admin_key, "/v1/events").await;
    assert_eq!(
        (
            left["total"].as_u64(),
            left["entries"][0]["action"].as_str()
        ),
        (Some(1), Some("retention.pruned")),
        "only the prune's own entry, written before it removed anything, is left: {left}"
    );

    ingest(&s, 3).await;
    let (_, after) = sign_now(&s).await;
    let c = s
        .get_json(
            &s.admin_key,
            &format!(
                "/v1/proof/consistency?old={}&new={}",
                before.size, after.size
            ),
        )
        .await;
    verify_consistency(
        before.size,
        after.size,
        &before.root,
        &after.root,
        &hashes(&c["proof"]),
    )
    .unwrap();
    let p = s
        .get_json(
            &s.admin_key,
            &format!("/v1/proof/inclusion?seq=0&size={}", after.size),
        )
        .await;
    assert!(p["leaf_hash"].is_null(), "a pruned entry's bytes are gone");
    verify_inclusion(0, after.size, &leaf0, &hashes(&p["proof"]), &after.root)
        .expect("a pruned entry stays provably in the log");
}

#[tokio::test]
async fn erasure_pseudonymises_the_subject_and_audits_without_personal_data() {
    let s = TestServer::start().await;
    let mut e = event("doc.updated", "alice");
    e["actor"]["name"] = json!("Alice Liddell");
    e["context"] = json!({ "ip": "203.0.113.9" });
    s.post_events(&s.admin_key, &e).await;
    let mut mention = event("doc.shared", "bob");
    mention["description"] = json!("Shared with Alice Liddell");
    s.post_events(&s.admin_key, &mention).await;
    let (_, before) = sign_now(&s).await;

    let r = post_json(
        &s,
        &s.admin_key,
        "/v1/subjects/alice@example.com/erase",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let outcome: Value = r.json().await.unwrap();
    let pseudonym = outcome["pseudonym"].as_str().unwrap().to_string();
    assert!(
        outcome["entries_scrubbed"].as_u64().unwrap() >= 2,
        "{outcome}"
    );

    let all = s
        .get_json(&s.admin_key, "/v1/events?limit=1000")
        .await
        .to_string();
    for trace in ["alice@example.com", "Alice Liddell", "203.0.113.9"] {
        assert!(!all.contains(trace), "{trace} still visible: {all}");
    }
    assert!(all.contains(&pseudonym));
    assert_eq!(
        s.get_json(&s.admin_key, "/v1/events?actor=alice%40example.com")
            .await["total"],
        0
    );
    let audit = s
        .get_json(&s.admin_key, "/v1/events?action=subject.erased")
        .await;
    assert_eq!(audit["total"], 1);
    assert!(!audit.to_string().contains("alice"), "{audit}");

    // The trail before the erasure is still the same trail.
    let (_, after) = sign_now(&s).await;
    let c = s
        .get_json(
            &s.admin_key,
            &format!(
                "/v1/proof/consistency?old={}&new={}",
                before.size, after.size
            ),
        )
        .await;
    verify_consistency(
        before.size,
        after.size,
        &before.root,
        &after.root,
        &hashes(&c["proof"]),
    )
    .unwrap();
    let read = s.key(&[Scope::Read]).await;
    expect_error(
        post_json(&s, &read, "/v1/subjects/bob@example.com/erase", None).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}

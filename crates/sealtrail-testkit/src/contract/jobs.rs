//! Export jobs and sign-in attempts: what every node of a deployment must agree on — one
//! runner per job, writes only from the attempt that holds it, files served from any node,
//! limits counted once for everyone.

use sealtrail_core::jobs::JobState;
use sealtrail_core::{TenantId, Timestamp};
use sealtrail_store::{
    AttemptRequest, AttemptRule, JobAttempt, JobEnd, Store, StoredJob, SweepRules,
};
use std::sync::Arc;
use uuid::Uuid;

fn queued(tenant: TenantId, created_at: i64) -> StoredJob {
    StoredJob::queued(
        tenant,
        Uuid::now_v7(),
        format!("{{\"n\":{created_at}}}"),
        Timestamp(created_at),
    )
}

/// A sweep at `now` that takes jobs silent for `silent_ms`.
fn rules(now: i64, silent_ms: u64) -> SweepRules {
    SweepRules {
        now: Timestamp(now),
        silent_for: std::time::Duration::from_millis(silent_ms),
        dead_node: None,
        max_attempts: 3,
        failed_error: "its node stopped".into(),
        failed_expires_at: Timestamp(now + 60_000),
        expire_before: Timestamp(now),
        delete_files_before: Timestamp(now - 600_000),
        records_before: Timestamp(now - 7 * 86_400_000),
    }
}

async fn read_all(store: &Arc<dyn Store>, job: &StoredJob) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let piece = store
            .read_job_file(job.tenant, job.id, job.attempt, out.len() as u64, 5)
            .await
            .unwrap();
        if piece.is_empty() {
            return out;
        }
        out.extend(piece);
    }
}

/// A job is queued, claimed by one node, written (a retried write is harmless), ended ready
/// and read back whole by anyone; another tenant sees none of it; the per-tenant limit of
/// unfinished jobs holds.
pub async fn export_jobs_run_once_and_serve_their_file_from_the_store(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    let other = store.create_tenant("other").await.unwrap().id;
    let first = queued(acme, 1_000);
    let second = queued(acme, 2_000);
    assert!(store.add_job(first.clone(), 2).await.unwrap());
    assert!(store.add_job(second.clone(), 2).await.unwrap());
    assert!(
        !store.add_job(queued(acme, 3_000), 2).await.unwrap(),
        "a third unfinished job is over the limit"
    );
    assert!(store.add_job(queued(other, 3_000), 2).await.unwrap());
    assert!(store.job(other, first.id).await.unwrap().is_none());
    let listed: Vec<Uuid> = store
        .jobs(acme)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(listed, vec![second.id, first.id], "newest first");

    let now = Timestamp(10_000);
    let claimed = store.claim_job("node-a", now).await.unwrap().unwrap();
    assert_eq!(claimed.id, first.id, "the oldest queued job first");
    assert_eq!(
        (claimed.state, claimed.node.as_deref(), claimed.attempt),
        (JobState::Running, Some("node-a"), 1)
    );
    assert_eq!(claimed.started_at, Some(now));
    let (a, b) = (
        store.claim_job("node-b", now).await.unwrap().unwrap(),
        store.claim_job("node-b", now).await.unwrap().unwrap(),
    );
    assert!(a.id != first.id && b.id != first.id && a.id != b.id);
    assert!(store.claim_job("node-b", now).await.unwrap().is_none());

    let (t, id) = (acme, first.id);
    assert!(store
        .write_job_file(attempt(t, id, 1), 0, b"hello ".to_vec())
        .await
        .unwrap());
    assert!(store
        .write_job_file(attempt(t, id, 1), 6, b"wrong".to_vec())
        .await
        .unwrap());
    assert!(store
        .write_job_file(attempt(t, id, 1), 6, b"world".to_vec())
        .await
        .unwrap());
    assert!(store
        .job_progress(attempt(t, id, 1), 2, 11, Timestamp(11_000))
        .await
        .unwrap());
    let running = store.job(t, id).await.unwrap().unwrap();
    assert_eq!((running.rows, running.bytes), (2, 11));
    assert!(
        running.heartbeat_at.is_some(),
        "the report is its heartbeat"
    );
    assert!(
        !store
            .write_job_file(attempt(t, id, 2), 0, b"x".to_vec())
            .await
            .unwrap(),
        "another attempt may not write"
    );
    let ready = JobEnd::Ready {
        expires_at: Timestamp(100_000),
    };
    assert!(store
        .end_job(attempt(t, id, 1), 2, 11, ready.clone(), Timestamp(12_000))
        .await
        .unwrap());
    assert!(
        !store
            .end_job(attempt(t, id, 1), 2, 11, ready, Timestamp(12_000))
            .await
            .unwrap(),
        "an attempt ends once"
    );
    let done = store.job(t, id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Ready);
    assert_eq!(done.node, None);
    assert_eq!(done.finished_at, Some(Timestamp(12_000)));
    assert_eq!(done.expires_at, Some(Timestamp(100_000)));
    assert_eq!(done.spec, first.spec);
    assert_eq!(read_all(&store, &done).await, b"hello world");
    assert!(store
        .read_job_file(other, id, 1, 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(
        !store
            .write_job_file(attempt(t, id, 1), 11, b"!".to_vec())
            .await
            .unwrap(),
        "a finished job takes no more bytes"
    );
}

/// A runner that stops reporting loses its job to the queue (its bytes dropped) and cannot
/// write or end it afterwards; a job claimed too often fails; a restarted node's jobs are
/// taken at once; a shutting-down node releases its job; ready files expire, keep their
/// bytes through the download grace, and old records are forgotten.
pub async fn export_jobs_of_silent_nodes_are_taken_over_and_expire(store: Arc<dyn Store>) {
    let acme = store.create_tenant("acme").await.unwrap().id;
    // Reports are stamped by the database's clock where it has one, so silence is real time.
    let t0 = Timestamp::now().millis();
    let now = || Timestamp::now().millis();
    let silence = || tokio::time::sleep(std::time::Duration::from_millis(50));
    let job = queued(acme, 1_000);
    assert!(store.add_job(job.clone(), 10).await.unwrap());
    store
        .claim_job("node-a", Timestamp(now()))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .write_job_file(attempt(acme, job.id, 1), 0, b"half".to_vec())
        .await
        .unwrap());

    let swept = store.sweep_jobs(rules(now(), 30_000)).await.unwrap();
    assert_eq!(swept.requeued, 0, "reported just now: still alive");
    silence().await;
    let swept = store.sweep_jobs(rules(now(), 10)).await.unwrap();
    assert_eq!(swept.requeued, 1);
    let back = store.job(acme, job.id).await.unwrap().unwrap();
    assert_eq!(
        (back.state, back.node.as_deref(), back.rows),
        (JobState::Queued, None, 0)
    );
    assert!(!store
        .write_job_file(attempt(acme, job.id, 1), 4, b"!".to_vec())
        .await
        .unwrap());
    assert!(!store
        .end_job(
            attempt(acme, job.id, 1),
            1,
            4,
            JobEnd::Released,
            Timestamp(50_000)
        )
        .await
        .unwrap());

    let again = store
        .claim_job("node-b", Timestamp(now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempt, 2);
    let mut restart = rules(now(), 30_000);
    restart.dead_node = Some("node-b".into());
    assert_eq!(
        store.sweep_jobs(restart).await.unwrap().requeued,
        1,
        "node-b restarted"
    );
    let third = store
        .claim_job("node-c", Timestamp(now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempt, 3);
    silence().await;
    let swept = store.sweep_jobs(rules(now(), 10)).await.unwrap();
    assert_eq!(
        (swept.requeued, swept.failed),
        (0, 1),
        "three attempts: failed"
    );
    let failed = store.job(acme, job.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("its node stopped"));

    let released = queued(acme, 2_000);
    assert!(store.add_job(released.clone(), 10).await.unwrap());
    store
        .claim_job("node-a", Timestamp(t0 + 300_000))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .end_job(
            attempt(acme, released.id, 1),
            0,
            0,
            JobEnd::Released,
            Timestamp(t0 + 300_001)
        )
        .await
        .unwrap());
    let back = store.job(acme, released.id).await.unwrap().unwrap();
    assert_eq!(
        (back.state, back.attempt),
        (JobState::Queued, 0),
        "a clean stop gives its attempt back"
    );
    let again = store
        .claim_job("node-a", Timestamp(t0 + 300_002))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempt, 1);
    assert!(store
        .write_job_file(attempt(acme, released.id, 1), 0, b"whole".to_vec())
        .await
        .unwrap());
    let ready = JobEnd::Ready {
        expires_at: Timestamp(t0 + 400_000),
    };
    assert!(store
        .end_job(
            attempt(acme, released.id, 1),
            1,
            5,
            ready,
            Timestamp(t0 + 300_003)
        )
        .await
        .unwrap());
    let swept = store.sweep_jobs(rules(t0 + 400_000, 30_000)).await.unwrap();
    assert_eq!(swept.expired, 1);
    let expired = store.job(acme, released.id).await.unwrap().unwrap();
    assert_eq!(expired.state, JobState::Expired);
    assert_eq!(
        read_all(&store, &expired).await,
        b"whole",
        "a download under way may finish"
    );
    store
        .sweep_jobs(rules(t0 + 400_000 + 600_000, 30_000))
        .await
        .unwrap();
    assert!(
        read_all(&store, &expired).await.is_empty(),
        "bytes deleted after the grace"
    );
    let swept = store
        .sweep_jobs(rules(t0 + 400_000 + 7 * 86_400_000, 30_000))
        .await
        .unwrap();
    assert_eq!(swept.forgotten, 2, "the failed and the expired record");
    assert!(store.jobs(acme).await.unwrap().is_empty());
}

/// Counts per key, a pure rule deciding the charges, refunds and successes — and attempts
/// sent at once are counted one after another, so a limit of five admits exactly five.
pub async fn sign_in_attempts_are_counted_once_for_everyone(store: Arc<dyn Store>) {
    let limit_first: AttemptRule =
        Arc::new(|windows, _| (windows[0].count < 5).then(|| vec![0, 1]));
    let request = |token: u8, now: i64| AttemptRequest {
        keys: vec![b"pair-key".to_vec(), b"address-key".to_vec()],
        familiar: b"familiar-key".to_vec(),
        since: Timestamp(now - 900_000),
        now: Timestamp(now),
        token: [token; 16],
        rule: limit_first.clone(),
    };
    let mut tasks = Vec::new();
    for i in 0..12u8 {
        let (store, request) = (store.clone(), request(i, 1_000_000));
        tasks.push(tokio::spawn(
            async move { store.begin_attempt(request).await },
        ));
    }
    let mut admitted = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        if task.await.unwrap().unwrap().admitted {
            admitted.push(i as u8);
        }
    }
    assert_eq!(
        admitted.len(),
        5,
        "exactly the limit, however they interleave"
    );
    let check = store.begin_attempt(request(99, 1_000_001)).await.unwrap();
    assert!(!check.admitted);
    assert_eq!(check.windows[0].count, 5);
    assert_eq!(check.windows[1].count, 5);
    assert_eq!(check.windows[0].oldest, Some(Timestamp(1_000_000)));
    assert_eq!(check.familiar_at, None);

    store.refund_attempt([admitted[0]; 16]).await.unwrap();
    let check = store.begin_attempt(request(100, 1_000_002)).await.unwrap();
    assert!(check.admitted, "a refund gives the attempt back");
    assert_eq!(check.windows[0].count, 4);

    store
        .attempt_succeeded(
            [100; 16],
            vec![b"pair-key".to_vec()],
            b"familiar-key".to_vec(),
            Timestamp(1_000_003),
            Timestamp(0),
        )
        .await
        .unwrap();
    let check = store.begin_attempt(request(101, 1_000_004)).await.unwrap();
    assert_eq!(check.windows[0].count, 0, "a success forgives the pair");
    assert_eq!(
        check.windows[1].count, 4,
        "the address keeps its other attempts"
    );
    assert_eq!(check.familiar_at, Some(Timestamp(1_000_003)));

    let later = store
        .begin_attempt(request(102, 1_000_004 + 900_000))
        .await
        .unwrap();
    assert_eq!(
        (later.windows[0].count, later.windows[1].count),
        (0, 0),
        "attempts at or before the window's start no longer count"
    );
    store
        .attempt_succeeded(
            [102; 16],
            Vec::new(),
            b"other-familiar".to_vec(),
            Timestamp(2_000_000),
            Timestamp(1_500_000),
        )
        .await
        .unwrap();
    let check = store.begin_attempt(request(103, 2_000_001)).await.unwrap();
    assert_eq!(check.familiar_at, None, "old familiar marks are forgotten");
}

/// Attempt `n` of a job.
fn attempt(tenant: TenantId, id: Uuid, n: u32) -> JobAttempt {
    JobAttempt {
        tenant,
        id,
        attempt: n,
    }
}

/// An erasure withdraws what the tenant exported before it (the files may hold the erased
/// values): a ready job expires with its bytes gone and says why, a running one goes back to
/// the queue to run again on the erased log; another tenant's exports stay.
pub async fn an_erasure_withdraws_the_tenants_exports(store: Arc<dyn Store>) {
    use super::erasure::by_subject;
    use super::fixtures::{append, erase};
    let acme = store.create_tenant("acme").await.unwrap().id;
    let other = store.create_tenant("other").await.unwrap().id;
    append(&store, acme, vec![by_subject("session.created")]).await;
    let now = Timestamp::now();
    let later = Timestamp(now.0 + 3_600_000);
    let mut ready = Vec::new();
    for tenant in [acme, other] {
        let job = queued(tenant, now.0);
        assert!(store.add_job(job.clone(), 10).await.unwrap());
        let claimed = store.claim_job("node-a", now).await.unwrap().unwrap();
        let data = b"zoe.martin@example.com,signed in".to_vec();
        let a = claimed.current_attempt();
        assert!(store.write_job_file(a, 0, data).await.unwrap());
        let end = JobEnd::Ready { expires_at: later };
        assert!(store.end_job(a, 1, 32, end, now).await.unwrap());
        ready.push(
            store
                .job(claimed.tenant, claimed.id)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let running = queued(acme, now.0 + 1);
    assert!(store.add_job(running.clone(), 10).await.unwrap());
    let claimed = store.claim_job("node-a", now).await.unwrap().unwrap();
    assert_eq!(claimed.id, running.id);

    let erased = erase(&store, acme, "u-zoe", sealtrail_store::ErasureMode::Erase).await;
    assert_eq!(erased.entries_scrubbed, 1);

    let withdrawn = store.job(acme, ready[0].id).await.unwrap().unwrap();
    assert_eq!(withdrawn.state, JobState::Expired);
    assert!(withdrawn
        .error
        .as_deref()
        .unwrap_or("")
        .starts_with("withdrawn"));
    assert!(
        read_all(&store, &withdrawn).await.is_empty(),
        "its bytes are gone"
    );
    let again = store.job(acme, running.id).await.unwrap().unwrap();
    assert_eq!((again.state, again.node), (JobState::Queued, None));
    assert!(
        !store
            .write_job_file(claimed.current_attempt(), 0, b"old".to_vec())
            .await
            .unwrap(),
        "the attempt that read the log before the erasure writes nothing more"
    );
    let kept = store.job(other, ready[1].id).await.unwrap().unwrap();
    assert_eq!(kept.state, JobState::Ready);
    assert_eq!(
        read_all(&store, &kept).await,
        b"zoe.martin@example.com,signed in"
    );
}

/// An erasure rewrites what the tenant's job records keep of the subject — a requester, a
/// label, a filter value — since the job list shows them for days after; a record naming
/// someone else, and another tenant's records, stay byte for byte.
pub async fn an_erasure_rewrites_the_subject_out_of_job_records(store: Arc<dyn Store>) {
    use super::erasure::{by_subject, SUBJECT_EMAIL, SUBJECT_NAME};
    use super::fixtures::{append, erase};
    use serde_json::json;
    let acme = store.create_tenant("acme").await.unwrap().id;
    let other = store.create_tenant("other").await.unwrap().id;
    append(&store, acme, vec![by_subject("session.created")]).await;
    let naming = json!({
        "name": format!("Access review {SUBJECT_NAME}"),
        "filters": {"actor": SUBJECT_EMAIL.to_uppercase(), "target_id": "u-zoe"},
        "params": [["actor", SUBJECT_EMAIL], ["target_id", "u-zoe"]],
        "actor": {"type": "user", "id": "u-zoe", "email": SUBJECT_EMAIL, "name": SUBJECT_NAME},
    })
    .to_string();
    let unrelated = json!({
        "name": "Quarterly review",
        "filters": {"actor": "u-zoey"},
        "actor": {"type": "user", "id": "u-auditor", "email": "auditor@example.com"},
    })
    .to_string();
    let now = Timestamp::now();
    let mut jobs = Vec::new();
    for (tenant, spec) in [(acme, &naming), (acme, &unrelated), (other, &naming)] {
        let job = StoredJob::queued(tenant, Uuid::now_v7(), spec.clone(), now);
        assert!(store.add_job(job.clone(), 10).await.unwrap());
        jobs.push(job);
    }

    let erased = erase(&store, acme, "u-zoe", sealtrail_store::ErasureMode::Erase).await;
    assert_eq!(erased.entries_scrubbed, 1);

    let rewritten = store.job(acme, jobs[0].id).await.unwrap().unwrap().spec;
    let lower = rewritten.to_lowercase();
    for gone in ["u-zoe", SUBJECT_EMAIL, &SUBJECT_NAME.to_lowercase()] {
        assert!(!lower.contains(gone), "`{gone}` is still in {rewritten}");
    }
    let spec: serde_json::Value = serde_json::from_str(&rewritten).unwrap();
    let pseudonym = spec["actor"]["id"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased-"), "{rewritten}");
    assert_eq!(spec["actor"]["type"], "user");
    assert_eq!(spec["filters"]["actor"], pseudonym.as_str());
    assert_eq!(spec["params"][0][1], pseudonym.as_str());
    assert_eq!(spec["name"], format!("Access review {pseudonym}"));
    let kept = store.job(acme, jobs[1].id).await.unwrap().unwrap().spec;
    assert_eq!(kept, unrelated, "a record naming someone else stays");
    let elsewhere = store.job(other, jobs[2].id).await.unwrap().unwrap().spec;
    assert_eq!(elsewhere, naming, "another tenant's records stay");
}

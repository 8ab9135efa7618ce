//! The real binary under conditions an operator meets: `sealtrail limits` changing what a
//! running server allows, and SIGTERM while a client is stuck mid-request.

use crate::common::{sealtrail, serve_args, text, Served, BIN};
use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[test]
fn limits_are_shown_changed_audited_and_applied_by_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path());
    let key = served.read_first_key();
    let (u, d) = (served.url.clone(), dir.path());

    let shown = sealtrail(&["limits", "show"], &u, "", d);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("requests per second per API key: 500"),
        "{shown}"
    );
    assert!(
        shown.contains("events per day (UTC):            unlimited"),
        "{shown}"
    );

    let zero = sealtrail(&["limits", "set", "--key-rate", "0"], &u, "", d);
    assert_eq!(zero.status.code(), Some(1));
    assert!(
        text(&zero.stderr).contains("between 1 and"),
        "{}",
        text(&zero.stderr)
    );
    let typo = sealtrail(&["limits", "set", "--key-rate", "fast"], &u, "", d);
    assert!(!typo.status.success());
    assert!(text(&typo.stderr).contains("not a whole number or `unlimited`"));
    let nothing = sealtrail(&["limits", "set"], &u, "", d);
    assert_eq!(nothing.status.code(), Some(1));

    let set = sealtrail(
        &[
            "limits",
            "set",
            "--key-rate",
            "1",
            "--daily-quota",
            "1_000_000",
        ],
        &u,
        "",
        d,
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let out = text(&set.stdout);
    assert!(
        out.contains("requests per second per API key: 1\n"),
        "{out}"
    );
    assert!(
        out.contains("ingested events per second:      5000"),
        "{out}"
    );
    assert!(
        out.contains("events per day (UTC):            1000000"),
        "{out}"
    );

    // The running server reads limits again within five seconds; then a burst is refused.
    std::thread::sleep(Duration::from_millis(5_500));
    let statuses: Vec<Output> = (0..4)
        .map(|_| sealtrail(&["query", "--limit", "1"], &u, &key, d))
        .collect();
    let refused = statuses
        .iter()
        .find(|o| !o.status.success())
        .expect("a burst of 4 against 1 request/s was never refused");
    assert!(
        text(&refused.stderr).contains("429"),
        "{}",
        text(&refused.stderr)
    );

    // Lift it again and the change is in the log, by the CLI.
    let lifted = sealtrail(&["limits", "set", "--key-rate", "unlimited"], &u, "", d);
    assert!(lifted.status.success(), "{}", text(&lifted.stderr));
    std::thread::sleep(Duration::from_millis(5_500));
    let audit = sealtrail(
        &["query", "--format", "json", "--action", "limits.changed"],
        &u,
        &key,
        d,
    );
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let v: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(v["total"], 2);
    assert_eq!(
        v["entries"][0]["changes"]["after"]["requests_per_second_per_key"],
        serde_json::Value::Null
    );
    served.stop_cleanly();
}

#[test]
fn sigterm_with_a_stuck_client_exits_after_the_deadline_with_every_entry_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_with(
        dir.path(),
        &[
            "--shutdown-timeout-secs",
            "1",
            "--request-timeout-secs",
            "120",
            "--idle-timeout-secs",
            "300",
        ],
    );
    let key = served.read_first_key();
    let (u, d) = (served.url.clone(), dir.path());
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        (0..20)
            .map(|i| format!("{{\"action\":\"user.created\",\"actor\":{{\"id\":\"u{i}\"}}}}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let ingested = sealtrail(&["ingest", events.to_str().unwrap()], &u, &key, d);
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));
    // A client that announced a body and never sends it.
    let mut stuck = TcpStream::connect(u.trim_start_matches("http://")).unwrap();
    write!(
        stuck,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 500\r\n\r\n{{"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (clean, rest) = served.stop();
    assert!(clean, "SIGTERM did not exit cleanly: {rest}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "shutdown took {:?} with a stuck client",
        started.elapsed()
    );
    drop(stuck);
    let verified = sealtrail(&["verify"], &u, "", d);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    let out = text(&verified.stdout);
    let size = out
        .split("default: OK — ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("extends the checkpoint of size {size} ")),
        "the final checkpoint does not cover the log: {out}"
    );
}

/// The attack from the issue, on a server limited to 256 open files: 300 half-sent requests.
/// The server keeps answering health checks and ingest, and still stops cleanly.
#[test]
fn three_hundred_half_sent_requests_on_256_descriptors_do_not_silence_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(serve_args(dir.path(), &[]));
    let mut served = Served::spawn(command);
    let key = served.read_first_key();
    let address = served.url.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..300 {
        match TcpStream::connect(&address) {
            Ok(mut s) => {
                let _ = s.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                slow.push(s);
            }
            Err(e) => panic!("connecting failed: {e}"),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // A prompt client still gets through, on a fresh connection.
    let started = Instant::now();
    let mut probe = TcpStream::connect(&address).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut probe, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "healthz: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let ingested = sealtrail(&["query", "--limit", "1"], &served.url, &key, dir.path());
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));
    drop(slow);
    served.stop_cleanly();
}

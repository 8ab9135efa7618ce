//! A syslog sink against a real rsyslog (Debian's `rsyslog` with `rsyslog-gnutls`, started by
//! the test on a loopback port with TLS and a certificate from a throwaway CA), which writes
//! every message it receives, as received, to a file. The test reads that file and parses each
//! line with an independent RFC 5424 parser: every entry of the log arrives once, in seq
//! order, with the facility, severity, MSGID and structured data docs/streaming.md describes
//! and the entry's JSON after a BOM. A server that does not trust the receiver's CA refuses
//! to send, and says why.

use crate::common::{free_port, get_json, log_size, post_batch, wait_for_port, KillOnDrop, Served};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use syslog_rfc5424::{parse_message, SyslogFacility, SyslogSeverity};

/// rsyslogd listening with TLS, writing what it receives to `out`.
struct Rsyslog {
    _process: KillOnDrop,
    out: PathBuf,
}

fn start_rsyslog(dir: &Path, certs: &sealtrail_testkit::certs::Issued) -> (Rsyslog, u16) {
    let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("rsyslogd is not installed: apt-get install rsyslog rsyslog-gnutls (.ci/run does)");
    let port = free_port();
    let out = dir.join("received.log");
    let conf = dir.join("rsyslog.conf");
    let p = |path: &Path| path.display().to_string();
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{dir}" DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{ca}" DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\n")
action(type="omfile" file="{out}" template="raw")
"#,
            dir = p(dir),
            ca = p(&certs.ca),
            cert = p(&certs.cert),
            key = p(&certs.key),
            out = p(&out),
        ),
    )
    .unwrap();
    let child = Command::new(rsyslogd)
        .args(["-n", "-f", &p(&conf), "-i", &p(&dir.join("rsyslogd.pid"))])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "rsyslogd");
    (
        Rsyslog {
            _process: KillOnDrop(child),
            out,
        },
        port,
    )
}

async fn create_sink(url: &str, key: &str, receiver: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/sinks"))
        .bearer_auth(key)
        .json(&json!({"name": "syslog", "kind": "syslog", "url": receiver}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_over_tls_receives_every_entry_as_rfc5424() {
    let work = tempfile::tempdir().unwrap();
    let certs = sealtrail_testkit::certs::issue(work.path()).unwrap();
    let (rsyslog, port) = start_rsyslog(work.path(), &certs);
    let receiver = format!("syslog+tls://localhost:{port}");

    let dir = tempfile::tempdir().unwrap();
    let ca = certs.ca.display().to_string();
    let mut server = Served::start_with(dir.path(), &["--sink-private-networks", "--sink-ca", &ca]);
    let key = server.read_first_key();
    let events: Vec<Value> = (0..250)
        .map(|i| {
            json!({"action": "document.shared", "actor": {"id": format!("u{i}"), "name": "Zoë \"Z\" ]"},
                   "result": if i % 10 == 0 { "denied" } else { "success" },
                   "context": {"ip": "203.0.113.7"},
                   "description": "line one\nline two"})
        })
        .collect();
    post_batch(&server.url, &key, events).await;
    create_sink(&server.url, &key, &receiver).await;
    let size = log_size(&server.url, &key).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let text = std::fs::read_to_string(&rsyslog.out).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() as u64 >= size {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "rsyslog holds {} of {size} messages",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(lines.len() as u64, size, "each entry once");
    for (seq, line) in lines.iter().enumerate() {
        let message =
            parse_message(line.as_str()).unwrap_or_else(|e| panic!("not RFC 5424 ({e}): {line}"));
        let sd = |name: &str| {
            message
                .sd
                .find_tuple("sealtrail@32473", name)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(sd("seq"), seq.to_string(), "in seq order");
        assert_eq!(sd("tenant"), "default");
        assert_eq!(message.facility, SyslogFacility::LOG_AUDIT);
        assert_eq!(message.appname.as_deref(), Some("sealtrail"));
        let body = message
            .msg
            .strip_prefix('\u{feff}')
            .unwrap_or_else(|| panic!("no BOM before the message: {line}"));
        let entry: Value = serde_json::from_str(body).unwrap();
        assert_eq!(entry["seq"], seq as u64);
        assert_eq!(sd("id"), entry["id"].as_str().unwrap());
        assert_eq!(message.msgid.as_deref(), entry["action"].as_str());
        let expected = match entry["result"].as_str().unwrap() {
            "denied" => SyslogSeverity::SEV_WARNING,
            _ => SyslogSeverity::SEV_INFO,
        };
        assert_eq!(message.severity, expected, "{line}");
        if entry["action"] == "document.shared" {
            assert_eq!(sd("actor"), entry["actor"]["id"].as_str().unwrap());
            assert_eq!(sd("ip"), "203.0.113.7");
            assert_eq!(entry["description"], "line one\nline two");
        }
    }
    server.stop_cleanly();

    // Without the receiver's CA the server refuses the connection and says why.
    let other = tempfile::tempdir().unwrap();
    let mut untrusting = Served::start_with(other.path(), &["--sink-private-networks"]);
    let key = untrusting.read_first_key();
    let created = create_sink(&untrusting.url, &key, &receiver).await;
    let id = created["sink"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sink = get_json(&untrusting.url, &key, &format!("/v1/sinks/{id}")).await;
        if let Some(error) = sink["last_error"].as_str() {
            assert!(error.contains("certificate"), "{error}");
            assert_eq!(sink["cursor"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "no failure recorded: {sink}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    untrusting.stop_cleanly();
    drop(rsyslog);
}

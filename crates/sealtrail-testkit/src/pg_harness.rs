//! A real PostgreSQL server for tests, because what the PostgreSQL backend promises (transactions,
//! locking, crash recovery) can only be proven against the real engine, never a mock.
//!
//! Each server is its own cluster in its own directory under `/tmp`, listening on 127.0.0.1 on a
//! free port with a random password. A detached watchdog stops it and deletes the directory once
//! the test process is gone, since a killed or aborted test runs no destructors. PostgreSQL
//! refuses to run as root, so when we are root the cluster belongs to the `postgres` user.

use std::fmt::Display;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::{chown, DirBuilderExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

const USER: &str = "sealtrail";
const PG_ROOT: &str = "/usr/lib/postgresql";
const START_ATTEMPTS: u32 = 5;

static NEXT_DB: AtomicU64 = AtomicU64::new(1);
static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();

/// A PostgreSQL cluster owned by this test process, so tests are isolated from each other and from
/// any PostgreSQL the developer runs, and need no manual setup beyond installed binaries.
pub struct PgServer {
    dir: String,
    bin: String,
    port: u16,
    password: String,
    as_postgres: bool,
    shared: bool,
    running: Mutex<bool>,
}

impl PgServer {
    /// For tests that crash, restart or otherwise disturb the server, which would break every other
    /// test sharing it. Stopped and deleted on Drop; the watchdog is the backup if Drop never runs.
    pub fn start() -> Result<PgServer, String> {
        Self::launch(false)
    }

    /// Starting a cluster costs a couple of seconds, so ordinary tests share one per test process
    /// and isolate themselves with [`PgServer::create_database`]. Started on first use and never
    /// dropped (statics are not); the watchdog stops it when the process exits.
    pub fn shared() -> Result<&'static PgServer, String> {
        let server = SHARED.get_or_init(|| Self::launch(true));
        server.as_ref().map_err(Clone::clone)
    }

    /// A fresh database per test keeps tests on a shared server from seeing each other's data;
    /// returns its URL, `postgres://sealtrail:<password>@127.0.0.1:<port>/<name>`.
    pub fn create_database(&self) -> Result<String, String> {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{n}_{}", std::process::id());
        self.psql(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(&name))
    }

    /// So a test can reach a database it already created (for example from a second connection or
    /// after a restart) without knowing the password.
    pub fn url(&self, database: &str) -> String {
        let (password, port) = (&self.password, self.port);
        format!("postgres://{USER}:{password}@127.0.0.1:{port}/{database}")
    }

    /// The cluster's data directory, for tests that read its files (byte scans after an
    /// erasure).
    pub fn data_dir(&self) -> &Path {
        Path::new(&self.dir)
    }

    /// For tests that need the socket itself (to probe it, or to build their own connection).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server with `pg_ctl -m immediate stop`, which skips the shutdown checkpoint like a
    /// power cut, so tests can check how the backend behaves when its database dies.
    pub fn crash(&self) -> Result<(), String> {
        let mut running = self.lock();
        if !*running {
            return Err("PostgreSQL test server is not running".into());
        }
        let stop = format!("-D {} -m immediate -t 60 stop", self.data());
        run(&mut self.pg("pg_ctl", &stop), "pg_ctl stop")?;
        *running = false;
        Ok(())
    }

    /// Brings a crashed server back on the same port and data directory, so URLs handed out before
    /// the crash work again once PostgreSQL's crash recovery has replayed the WAL.
    pub fn restart(&self) -> Result<(), String> {
        let mut running = self.lock();
        if *running {
            return Err("PostgreSQL test server is already running".into());
        }
        self.pg_start()?;
        *running = true;
        Ok(())
    }

    /// Starts a streaming replica of this server (a `pg_basebackup -R` copy in its own
    /// directory, on its own port), for tests of reads served from a standby. Stopped and
    /// deleted on Drop, like [`PgServer::start`]'s.
    pub fn start_replica(&self) -> Result<PgServer, String> {
        let pid = std::process::id();
        let dir = format!("/tmp/sealtrail-pg-{pid}-{}", random_hex(6)?);
        let created = fs::DirBuilder::new().mode(0o700).create(&dir);
        created.map_err(ctx(format!("creating {dir}")))?;
        let mut replica = PgServer {
            dir,
            bin: self.bin.clone(),
            port: 0,
            password: self.password.clone(),
            as_postgres: self.as_postgres,
            shared: false,
            running: Mutex::new(false),
        };
        if self.as_postgres {
            let (uid, gid) = postgres_ids()?;
            let owned = chown(&replica.dir, Some(uid), Some(gid));
            owned.map_err(ctx(format!("chown {} to postgres", replica.dir)))?;
        }
        replica.spawn_watchdog()?;
        let args = format!(
            "-h 127.0.0.1 -p {} -U {USER} -D {} -R -X stream --checkpoint=fast --no-sync",
            self.port,
            replica.data()
        );
        let mut backup = replica.pg("pg_basebackup", &args);
        run(backup.env("PGPASSWORD", &self.password), "pg_basebackup")?;
        replica.port = free_port()?;
        replica.pg_start()?;
        *replica.lock() = true;
        Ok(replica)
    }

    /// Turns TLS on with a certificate for `127.0.0.1`/`localhost` issued by a throwaway CA
    /// made with `openssl`, and returns the CA's PEM file, for tests of encrypted and verified
    /// connections.
    pub fn enable_tls(&self) -> Result<PathBuf, String> {
        let crate::certs::Issued { ca, cert, key } = crate::certs::issue(Path::new(&self.dir))?;
        let path = |p: &PathBuf| p.display().to_string();
        if self.as_postgres {
            let (uid, gid) = postgres_ids()?;
            for file in [&key, &cert] {
                chown(file, Some(uid), Some(gid)).map_err(ctx("chown the server key"))?;
            }
        }
        self.psql(&format!(
            "ALTER SYSTEM SET ssl_cert_file = '{}'",
            path(&cert)
        ))?;
        self.psql(&format!("ALTER SYSTEM SET ssl_key_file = '{}'", path(&key)))?;
        self.psql("ALTER SYSTEM SET ssl = on")?;
        self.psql("SELECT pg_reload_conf()")?;
        Ok(ca)
    }

    fn launch(shared: bool) -> Result<PgServer, String> {
        let env_bin = std::env::var_os("SEALTRAIL_PG_BIN").map(PathBuf::from);
        let bin = find_bin(env_bin, Path::new(PG_ROOT))?.display().to_string();
        let owner = (id("-u")? == 0).then(postgres_ids).transpose()?;
        // No whitespace in here: `pg` splits its arguments on whitespace.
        let pid = std::process::id();
        let dir = format!("/tmp/sealtrail-pg-{pid}-{}", random_hex(6)?);
        let created = fs::DirBuilder::new().mode(0o700).create(&dir);
        created.map_err(ctx(format!("creating {dir}")))?;
        // From here on an early return drops `server`, which deletes the directory.
        let mut server = PgServer {
            dir,
            bin,
            port: 0,
            password: random_hex(16)?,
            as_postgres: owner.is_some(),
            shared: false,
            running: Mutex::new(false),
        };
        // The directory is 0700, so nobody else can read the password file.
        let pwfile = format!("{}/pwfile", server.dir);
        fs::write(&pwfile, &server.password).map_err(ctx(format!("writing {pwfile}")))?;
        if let Some((uid, gid)) = owner {
            for path in [&server.dir, &pwfile] {
                let owned = chown(path, Some(uid), Some(gid));
                owned.map_err(ctx(format!("chown {path} to postgres")))?;
            }
        }
        server.spawn_watchdog()?;
        let args = format!(
            "-D {} -U {USER} --pwfile={pwfile} --auth=scram-sha-256 -E UTF8 \
             --locale=C.UTF-8 --no-sync",
            server.data()
        );
        let initialized = run(&mut server.pg("initdb", &args), "initdb");
        let _ = fs::remove_file(&pwfile);
        initialized?;
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            server.port = free_port()?;
            match server.pg_start() {
                Ok(()) => {
                    *server.lock() = true;
                    server.shared = shared;
                    return Ok(server);
                }
                // Another process took the port between our probe and the server's bind.
                Err(e) if e.contains("Address already in use") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(format!("no free port in {START_ATTEMPTS} attempts: {last}"))
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir)
    }

    /// A server binary with whitespace-separated `args`, run as `postgres` when we are root.
    fn pg(&self, tool: &str, args: &str) -> Command {
        let program = format!("{}/{tool}", self.bin);
        let mut cmd = Command::new(&program);
        if self.as_postgres {
            cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--", &program]);
        }
        cmd.args(args.split_whitespace());
        cmd
    }

    fn pg_start(&self) -> Result<(), String> {
        let log = format!("{}/server.log", self.dir);
        let from = fs::metadata(&log).map_or(0, |m| m.len());
        let opts = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c max_connections=300 -c shared_buffers=128MB",
            self.port, self.dir
        );
        let args = format!("-D {} -l {log} -w -t 60 -o", self.data());
        let mut cmd = self.pg("pg_ctl", &args);
        let started = run(cmd.args([&opts, "start"]), "pg_ctl start");
        let log_tail = || format!("\n--- server.log ---\n{}", tail(&log, from));
        started.map(drop).map_err(|e| e + &log_tail())
    }

    /// Double-forks a shell that waits for this process to die, then stops the server and deletes
    /// the directory; it leaves early once the directory is gone (Drop cleaned up). Its stdio is
    /// null so it never holds `cargo test`'s pipes open, and it has its own process group and
    /// ignores SIGINT/SIGHUP so a Ctrl-C on the test run does not kill it before it cleans up.
    fn spawn_watchdog(&self) -> Result<(), String> {
        let (dir, data) = (sh_quote(&self.dir), sh_quote(&self.data()));
        let pg_ctl = sh_quote(&format!("{}/pg_ctl", self.bin));
        let su = self.as_postgres.then_some("runuser -u postgres --");
        let su = su.unwrap_or_default();
        let pid = std::process::id();
        let script = format!(
            "trap '' HUP INT; while kill -0 {pid} 2>/dev/null && [ -d {dir} ]; do sleep 1; done; \
             {su} {pg_ctl} -D {data} -m immediate stop; rm -rf {dir}"
        );
        let what = "spawning the PostgreSQL watchdog";
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("( {script} ) &")]).process_group(0);
        sh.stdin(Stdio::null()).stdout(Stdio::null());
        let status = sh.stderr(Stdio::null()).status().map_err(ctx(what))?;
        let failed = || format!("{what}: sh exited with {status}");
        status.success().then_some(()).ok_or_else(failed)
    }

    fn psql(&self, sql: &str) -> Result<String, String> {
        let conn = format!("-h 127.0.0.1 -p {} -U {USER} -d postgres", self.port);
        let mut cmd = psql(&self.bin, &conn);
        cmd.env("PGPASSWORD", &self.password).args(["-c", sql]);
        run(&mut cmd, "psql")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if !self.shared {
            let _ = self.crash();
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Test suites call this instead of [`PgServer::shared`] so a missing or broken PostgreSQL fails
/// loudly with the fix in the message: the PostgreSQL tests never silently skip.
pub fn require_shared() -> &'static PgServer {
    match PgServer::shared() {
        Ok(server) => server,
        Err(e) => panic!("cannot start the PostgreSQL test server: {e}"),
    }
}

fn find_bin(from_env: Option<PathBuf>, root: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = from_env {
        let found = dir.join("initdb").is_file();
        let missing = || format!("SEALTRAIL_PG_BIN={} holds no initdb", dir.display());
        return found.then(|| dir.clone()).ok_or_else(missing);
    }
    let version = |name: &str| -> Option<Vec<u32>> {
        name.split('.').map(|part| part.parse().ok()).collect()
    };
    let entries = fs::read_dir(root).into_iter().flatten().flatten();
    let bins =
        entries.filter_map(|e| Some((version(e.file_name().to_str()?)?, e.path().join("bin"))));
    let usable =
        bins.filter(|(_, bin)| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file());
    usable.max().map(|(_, bin)| bin).ok_or_else(|| {
        format!(
            "PostgreSQL server binaries not found in {}/*/bin: install them with \
             `apt-get install postgresql postgresql-contrib` (the PostgreSQL tests never skip)",
            root.display()
        )
    })
}

/// A `psql` that reads no `~/.psqlrc`, prints bare values and stops at the first error.
fn psql(bin: &str, conn: &str) -> Command {
    let local = Some(format!("{bin}/psql")).filter(|p| Path::new(p).is_file());
    let mut cmd = Command::new(local.as_deref().unwrap_or("/usr/bin/psql"));
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
    cmd.env("PGCONNECT_TIMEOUT", "10")
        .args(conn.split_whitespace());
    cmd
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let program = format!("{what}: cannot run {:?}", cmd.get_program());
    let out = cmd.stdin(Stdio::null()).output().map_err(ctx(program))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (status, stderr) = (out.status, stderr.trim());
    Err(format!("{what} failed ({status}): {stderr}\n{stdout}"))
}

fn ctx<E: Display>(what: impl Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn postgres_ids() -> Result<(u32, u32), String> {
    let hint = "running as root, which PostgreSQL refuses, and there is no usable `postgres` \
                user (install the `postgresql` package; the PostgreSQL tests never skip)";
    let uid = id("-u postgres").map_err(ctx(hint))?;
    let gid = id("-g postgres").map_err(ctx(hint))?;
    Ok((uid, gid))
}

fn id(args: &str) -> Result<u32, String> {
    let out = run(Command::new("id").args(args.split_whitespace()), "id")?;
    let parsed = out.parse();
    parsed.map_err(ctx(format!("`id {args}` printed {out:?}")))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0");
    let port = listener.and_then(|l| l.local_addr()).map(|a| a.port());
    port.map_err(ctx("finding a free port"))
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    read.map_err(ctx("reading /dev/urandom"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The end of what the server logged since byte `from`, so a failed start explains itself.
fn tail(log: &str, from: u64) -> String {
    let bytes = fs::read(log).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(0);
    let text = String::from_utf8_lossy(bytes.get(from..).unwrap_or_default());
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::time::Instant;

    /// Queries through psql using only the pieces of `url`, proving the handed-out URL is usable.
    fn query(server: &PgServer, url: &str, sql: &str) -> Result<String, String> {
        let rest = url.strip_prefix("postgres://").ok_or("no scheme")?;
        let pieces: Vec<&str> = rest.split([':', '@', '/']).collect();
        let [user, password, host, port, db] = pieces[..] else {
            return Err(url.into());
        };
        let conn = format!("-h {host} -p {port} -U {user} -d {db}");
        let mut cmd = psql(&server.bin, &conn);
        run(cmd.env("PGPASSWORD", password).args(["-c", sql]), "psql")
    }

    #[test]
    fn private_server_survives_a_crash_and_is_gone_after_drop() {
        let started = Instant::now();
        let server = PgServer::start().unwrap();
        eprintln!("PgServer::start took {:?}", started.elapsed());
        let a = server.create_database().unwrap();
        let b = server.create_database().unwrap();
        assert_ne!(a, b);
        assert_eq!(query(&server, &a, "select 1").unwrap(), "1");
        let setup = "create table t (x int); insert into t values (42)";
        query(&server, &b, setup).unwrap();

        server.crash().unwrap();
        assert!(query(&server, &a, "select 1").is_err());
        assert!(server.crash().is_err(), "crashing a stopped server");
        server.restart().unwrap();
        assert_eq!(query(&server, &a, "select 1").unwrap(), "1");
        assert_eq!(query(&server, &b, "select x from t").unwrap(), "42");

        let (dir, port) = (server.dir.clone(), server.port());
        drop(server);
        assert!(!Path::new(&dir).exists(), "{dir} still exists");
        let connected = TcpStream::connect(("127.0.0.1", port));
        assert!(connected.is_err(), "port {port} still accepts connections");
    }

    #[test]
    fn shared_server_is_one_per_process() {
        let (first, second) = (require_shared(), require_shared());
        assert!(std::ptr::eq(first, second));
        let url = first.create_database().unwrap();
        let (password, port) = (&first.password, first.port);
        let prefix = format!("postgres://sealtrail:{password}@127.0.0.1:{port}/t_");
        assert!(url.starts_with(&prefix), "{url}");
        assert_eq!(query(first, &url, "select 1").unwrap(), "1");
    }

    #[test]
    fn missing_binaries_fail_loudly() {
        let nowhere = std::env::temp_dir().join(format!("no-pg-{}", std::process::id()));
        let err = find_bin(None, &nowhere).unwrap_err();
        let loud = err.contains("apt-get install postgresql") && err.contains("never skip");
        assert!(loud, "{err}");
        let err = find_bin(Some(nowhere), Path::new(PG_ROOT)).unwrap_err();
        assert!(err.contains("SEALTRAIL_PG_BIN"), "{err}");
    }
}

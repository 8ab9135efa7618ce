//! A real headless Chromium driven through chromedriver, for browser-level integration tests.
//!
//! Include it from a test file with `mod browser;`. Every [`Browser`] has its own chromedriver
//! (on a port the driver picks itself), profile and download directory, so tests may run in
//! parallel. Missing binaries panic: browser tests never skip silently.

#![allow(dead_code)]

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the waiting helpers poll before they fail the test.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// Flags this machine needs: its network is closed, and Chromium stalls on background fetches.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// One headless Chromium session with its own chromedriver, profile and download directory.
/// Dropping it (also while a failing test unwinds) kills chromedriver and Chromium.
pub struct Browser {
    client: Option<Client>,
    session: String,
    driver: Driver,
    driver_url: String,
    downloads: PathBuf,
    _dir: tempfile::TempDir,
}

/// The chromedriver child, leader of a process group that Chromium joins; killed on drop.
struct Driver {
    child: Child,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) only sends a signal. Its target is the group made at spawn: Chromium
        // and its helpers (crashpad leaves on its own); Linux reuses no id a group still holds.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Driver {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `name` on PATH, else in /usr/bin; panics with the install command when it is in neither.
fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "browser tests need `{name}`, found neither on PATH nor in /usr/bin; install it \
                 with `apt-get install chromium chromium-driver` (browser tests never skip)"
            )
        })
}

impl Browser {
    /// Starts chromedriver and a 1280×900 headless Chromium whose downloads land, unprompted,
    /// in [`Browser::download_dir`]. Panics with chromedriver's log if either does not come up.
    pub async fn launch() -> Browser {
        let chromium = find_binary("chromium");
        let chromedriver = find_binary("chromedriver");
        let dir = tempfile::TempDir::with_prefix("sealtrail-browser-").unwrap();
        let (profile, downloads) = (dir.path().join("profile"), dir.path().join("downloads"));
        std::fs::create_dir_all(&downloads).unwrap();
        let log = dir.path().join("chromedriver.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&chromedriver)
            .arg("--port=0") // the driver binds a free port itself and prints it: no race
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut driver = Driver { child, log };
        let driver_url = wait_for_driver(&mut driver).await;

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({
            "browserName": "chrome",
            "timeouts": { "pageLoad": 30_000, "script": 10_000 },
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let caps = caps.as_object().unwrap().clone();
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connecting = builder.capabilities(caps).connect(&driver_url);
        let connected = tokio::time::timeout(Duration::from_secs(60), connecting).await;
        let client = connected
            .map_err(|_| "none within 60 s".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .unwrap_or_else(|e| {
                panic!("no Chromium session: {e}; chromedriver:\n{}", driver.log())
            });
        let session = client.session_id().await.unwrap().expect("a session id");
        let client = Some(client);
        Browser {
            client,
            session,
            driver,
            driver_url,
            downloads,
            _dir: dir,
        }
    }

    /// The WebDriver client, for everything the helpers here do not wrap.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser already closed")
    }

    /// Navigates and waits for the page load (bounded by the 30 s page-load timeout).
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client().goto(url).await {
            panic!("{}", self.failure(format!("goto {url}: {e}")).await);
        }
    }

    /// Resizes the window, e.g. to 390×844 for narrow-screen (phone) checks.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.client().set_window_size(width, height).await.unwrap();
    }

    /// The URL the browser is on now (after redirects and form submissions).
    pub async fn current_url(&self) -> String {
        self.client().current_url().await.unwrap().to_string()
    }

    /// Waits up to [`WAIT`] for an element matching `css`; on timeout panics naming the
    /// selector, with the current URL and the start of the page source.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client().find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Err(e) => {
                    let what = format!("no `{css}` after {WAIT:?}: {e}");
                    panic!("{}", self.failure(what).await)
                }
            }
        }
    }

    /// Polls `ready` (given the client) until it returns true, up to [`WAIT`]; on timeout panics
    /// with `what` (the condition in words), the current URL and the start of the page source.
    pub async fn wait_until(&self, what: &str, mut ready: impl AsyncFnMut(&Client) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !ready(self.client()).await {
            if Instant::now() >= deadline {
                let what = format!("timed out after {WAIT:?} waiting until {what}");
                panic!("{}", self.failure(what).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The fresh, per-browser directory where downloads land.
    pub fn download_dir(&self) -> &Path {
        &self.downloads
    }

    /// Waits up to [`WAIT`] for a completed download (no `.crdownload` left) named `*.<ext>`.
    pub async fn wait_for_download(&self, ext: &str) -> PathBuf {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            let has = |ext: &str| {
                names
                    .iter()
                    .find(|p| p.extension().is_some_and(|e| e == ext))
            };
            match has(ext) {
                Some(path) if has("crdownload").is_none() => return path.clone(),
                _ if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                _ => {
                    let what = format!("no finished .{ext} download after {WAIT:?}: {names:?}");
                    panic!("{}", self.failure(what).await)
                }
            }
        }
    }

    /// Saves a PNG of the viewport to `<workspace>/target/test-artifacts/<name>.png` (kept after
    /// the run, for a person to look at) and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.canonicalize().unwrap().join(format!("{name}.png"));
        std::fs::write(&path, self.client().screenshot().await.unwrap()).unwrap();
        path
    }

    /// The page's console messages at level SEVERE (JS errors, failed loads) since the last
    /// call: chromedriver hands each log entry out once.
    pub async fn console_errors(&self) -> Vec<String> {
        let url = format!("{}session/{}/se/log", self.driver_url, self.session);
        let body = json!({ "type": "browser" });
        let response = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let reply: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{url} answered {status}: {reply}");
        let entries = reply["value"].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Ends the WebDriver session (Chromium quits) and then chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
    }

    /// A failure message: `what`, then the current URL and the start of the page source.
    async fn failure(&self, what: String) -> String {
        let url = match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("<{e}>"),
        };
        let source = self
            .client()
            .source()
            .await
            .unwrap_or_else(|e| format!("<{e}>"));
        let snippet: String = source.chars().take(2000).collect();
        format!("{what}\ncurrent URL: {url}\npage source (first 2000 chars):\n{snippet}")
    }
}

/// Reads the port chromedriver printed, then polls `/status` until it reports ready (10 s).
async fn wait_for_driver(driver: &mut Driver) -> String {
    const MARK: &str = "started successfully on port ";
    let deadline = Instant::now() + WAIT;
    let http = reqwest::Client::new();
    loop {
        if let Some(status) = driver.child.try_wait().unwrap() {
            panic!(
                "chromedriver exited ({status}) at start; log:\n{}",
                driver.log()
            );
        }
        let log = driver.log();
        if let Some(port) = log.split(MARK).nth(1).and_then(|r| r.split('.').next()) {
            let url = format!("http://127.0.0.1:{port}/");
            if let Ok(response) = http.get(format!("{url}status")).send().await {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    return url;
                }
            }
        }
        if Instant::now() >= deadline {
            panic!("chromedriver not ready after {WAIT:?}; its log:\n{log}");
        }
        tokio::time::sleep(POLL).await;
    }
}

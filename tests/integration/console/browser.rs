//! A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven over
//! WebDriver by fantoccini: one chromedriver on a free port and one fresh profile per
//! test. Without Chromium the browser tests are skipped loudly on a developer machine
//! and fail under `CI=true`, like the PostgreSQL variants.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

use crate::test_app::temporary_dir;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "chromedriver";
const PATIENCE: Duration = Duration::from_secs(15);

/// A browser session, its driver and its profile, all gone when dropped.
pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// A headless Chromium on the console at `base`, or `None` (said loudly) when no
    /// Chromium is installed outside CI.
    pub async fn start(base: &str, test: &str) -> Option<Self> {
        if !chromium_installed() {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("Chromium required under CI=true: apt-get install chromium chromium-driver");
            }
            let notice = format!("\n*** {test} SKIPPED (no {CHROMIUM} or {DRIVER}) ***\n");
            std::io::stderr().write_all(notice.as_bytes()).ok();
            return None;
        }
        let port = free_port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = temporary_dir("identity-chromium-");
        let client = connect(port, &profile).await;
        Some(Self {
            client,
            base: base.to_owned(),
            driver,
            _profile: profile,
        })
    }

    /// Opens a console page.
    pub async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The current path, with its query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the page's path starts with `prefix` (a form's redirect landed).
    pub async fn wait_for_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return path;
            }
            assert!(Instant::now() < deadline, "still on {path}, expected {prefix}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(error) => panic!("no {css} on {}: {error}", self.path().await),
        }
    }

    /// Every element `css` on the page, without waiting.
    pub async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Replaces the content of the input `css` with `value`.
    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Ends the WebDriver session; the driver process goes on drop.
    pub async fn close(self) {
        self.client.clone().close().await.ok();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.kill().ok();
        self.driver.wait().ok();
    }
}

fn chromium_installed() -> bool {
    let driver = Command::new(DRIVER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    Path::new(CHROMIUM).exists() && driver.is_ok_and(|status| status.success())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A WebDriver session, retried while chromedriver starts listening.
async fn connect(port: u16, profile: &TempDir) -> Client {
    let arguments = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": arguments },
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        match builder.connect(&url).await {
            Ok(client) => return client,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no WebDriver session from chromedriver on {port}: {error}"),
        }
    }
}

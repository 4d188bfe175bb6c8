//! Headless Chromium (Debian's `chromium` and `chromium-driver`, installed
//! by `.ci/run`) driven over WebDriver, for the tests of the review pages
//! (`review_browser.rs`, `review_oidc.rs`): start a browser, find, click and
//! type, wait for an element or a URL (never a timed assertion), and take
//! screenshots. Screenshots go to `docs/screenshots/` (which README shows)
//! only when `MW_SCREENSHOTS=docs` is set, so an ordinary test run leaves
//! the tree clean, and otherwise to the target directory.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Browser {
    driver: Child,
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Ends the WebDriver session, which makes chromedriver quit Chromium.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// chromedriver leads its own process group with Chromium in it: the
    /// whole group goes, so a failed test leaves no browser running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub async fn browser() -> Browser {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: apt-get install chromium chromium-driver (.ci/run does)"
        );
    }
    let port = super::free_port();
    let driver = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen; Chromium longer to start.
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("cannot start a Chromium session");
    client.set_window_size(1366, 900).await.unwrap();
    Browser {
        driver,
        client,
        _profile: profile,
    }
}

pub fn screenshots() -> PathBuf {
    let dir = if std::env::var("MW_SCREENSHOTS").as_deref() == Ok("docs") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Sizes the window to `width` and the page's whole height (at most
/// 3,000 px), for a screenshot of the whole page.
pub async fn fit(c: &Client, width: u32) {
    c.set_window_size(width, 900).await.unwrap();
    let h = c
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    c.set_window_size(width, (h as u32 + 140).min(3000))
        .await
        .unwrap();
}

/// True when the page does not scroll sideways at the window's width (the
/// pages must stay usable at a phone's 390 px).
pub async fn fits_width(c: &Client) -> bool {
    let js = "return document.documentElement.scrollWidth <= window.innerWidth;";
    c.execute(js, vec![]).await.unwrap().as_bool().unwrap()
}

/// Clicks the element `css` names, waiting for it: after a form is
/// submitted the next page may not have loaded yet (a slow CI runner).
pub async fn click(c: &Client, css: &str) {
    wait_for(c, css).await.click().await.unwrap();
}

/// Types `text` into the field `css` names, waiting for it like `click`.
pub async fn type_into(c: &Client, css: &str, text: &str) {
    wait_for(c, css).await.send_keys(text).await.unwrap();
}

pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// Waits until the page's URL contains `part` (a form was submitted).
pub async fn wait_for_url(c: &Client, part: &str) {
    for _ in 0..600 {
        if c.current_url().await.unwrap().as_str().contains(part) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached a URL with {part}");
}

pub async fn text(c: &Client, css: &str) -> String {
    wait_for(c, css).await.text().await.unwrap()
}

//! The web console in a real browser: Debian's headless Chromium, driven over the Chrome
//! DevTools Protocol (a websocket, `tungstenite`), against a real `spread dev` cluster.
//!
//! What a person sees is asserted from the rendered page: the login form, a wrong key refused
//! with a visible message, the map with every chunk server up (green), a locked one amber,
//! then one chunk server SIGKILLed turning red (down) without the page being reloaded while
//! the others stay green. Logout closes the API again.
//! The page is kept as a screenshot at `target/test-artifacts/console.png`.
//!
//! Chromium comes from Debian (`apt-get install chromium`; `scripts/test.sh` installs it, or
//! `CHROMIUM` names another binary). Without it the test fails when `CI=true` and is skipped,
//! saying so, elsewhere.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use conformance::cluster::{Cluster, DevOptions};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long Chromium may take to start and print its DevTools address.
const BROWSER_START: Duration = Duration::from_secs(60);
/// How long one DevTools command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the page may take to show something expected (a login, the first map).
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the page may take to show a killed chunk server down: meta's `dead_after_secs`
/// and the console's `console_down_after_secs` (10 s each) plus a refresh or two.
const DOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium binary, or why there is none.
fn chromium() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .ok_or_else(|| "no `chromium` in PATH (apt-get install chromium)".to_string())
}

/// A headless Chromium with its own throwaway profile; killed when dropped.
struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// The session of the page under test (`Target.attachToTarget`, flattened).
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch(bin: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(bin)
            .args([
                "--headless",
                // Root in a container: no user namespaces for Chromium's sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // The DevTools address is printed on stderr; the rest of stderr is drained so that
        // Chromium never blocks on a full pipe.
        let stderr = child.stderr.take().expect("Chromium's stderr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(BROWSER_START).unwrap_or_else(|_| {
            panic!("Chromium printed no DevTools address within {BROWSER_START:?}")
        });
        let host = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("DevTools address {url:?}"));
        let stream =
            TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
        stream
            .set_read_timeout(Some(COMMAND_TIMEOUT))
            .expect("a read timeout");
        let (ws, _) = tungstenite::client(url.as_str(), stream)
            .unwrap_or_else(|e| panic!("DevTools websocket {url}: {e}"));
        let mut browser = Browser {
            child,
            ws,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser.call("Page.enable", json!({}));
        browser
    }

    /// Sends one command (to the page's session when `session` is set) and waits for its
    /// answer, skipping events.
    fn send(&mut self, session: Option<String>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("sending {method}: {e}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{method}: no answer within {COMMAND_TIMEOUT:?}"
            );
            let frame = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("reading the answer to {method}: {e}"));
            let Message::Text(text) = frame else { continue };
            let answer: Value = serde_json::from_str(text.as_str())
                .unwrap_or_else(|e| panic!("DevTools sent no JSON ({e}): {text}"));
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = answer.get("error") {
                panic!("{method} failed: {err}");
            }
            return answer["result"].clone();
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(session), method, params)
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr}: {ex}");
        }
        r["result"]["value"].clone()
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(
            "the page to load",
            &format!("location.href === {url:?} && document.readyState === 'complete'"),
            PAGE_TIMEOUT,
        );
    }

    /// Waits (bounded) until `expr` is true in the page; a screenshot is kept on failure.
    fn wait_for(&mut self, what: &str, expr: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            // A navigation may be under way: an exception then just means "not yet".
            let r = self.call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            );
            if r["result"]["value"] == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot("console-failure.png");
                let text = self.eval("document.body ? document.body.innerText : ''");
                panic!(
                    "waited {timeout:?} for {what} ({expr}); screenshot {}; the page says:\n{}",
                    shot.display(),
                    text.as_str().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Types `text` into the field `selector`, as a keyboard would.
    fn type_into(&mut self, selector: &str, text: &str) {
        let focused = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return false; \
             e.value = ''; e.focus(); return document.activeElement === e; }})()"
        ));
        assert_eq!(focused, Value::Bool(true), "cannot focus {selector}");
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Clicks the middle of the element `selector` with the mouse.
    fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (Some(x), Some(y)) = (rect[0].as_f64(), rect[1].as_f64()) else {
            panic!("no {selector} to click");
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Saves the whole page as `target/test-artifacts/NAME`; answers the path.
    fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is no PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("test-artifacts");
        std::fs::create_dir_all(&dir).expect("target/test-artifacts");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("writing the screenshot");
        path.canonicalize().unwrap_or(path)
    }
}

/// The volume box of service `id`, as a JavaScript expression.
fn volume(id: &str) -> String {
    format!("document.querySelector('#map .volume[data-service=\"{id}\"]')")
}

/// Whether the volume of `id` shows state `state` (its label and its class).
fn shows(id: &str, state: &str, label: &str) -> String {
    let v = volume(id);
    format!(
        "(() => {{ const v = {v}; return !!v && v.dataset.state === '{state}' \
         && v.classList.contains('{state}') \
         && v.querySelector('.vol-state').textContent.startsWith('{label}'); }})()"
    )
}

/// The background colour of the volume of `id`, as `[r, g, b]`.
fn colour(browser: &mut Browser, id: &str) -> (i64, i64, i64) {
    let v = volume(id);
    let rgb = browser.eval(&format!(
        "getComputedStyle({v}).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    ));
    let c = |i: usize| rgb[i].as_i64().unwrap_or(-1);
    (c(0), c(1), c(2))
}

fn greenish((r, g, b): (i64, i64, i64)) -> bool {
    g > r + 15 && g > b + 15
}

fn amber((r, g, b): (i64, i64, i64)) -> bool {
    r > b + 40 && g > b + 40
}

fn reddish((r, g, b): (i64, i64, i64)) -> bool {
    r > g + 40 && r > b + 40
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_cluster_and_a_killed_chunk_server_turns_red() {
    let bin = match chromium() {
        Ok(bin) => bin,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the console test needs Chromium under CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED the console test: {why}");
            return;
        }
    };
    let mut cluster = Cluster::start_with(DevOptions {
        chunkd: 4,
        replicas: 2,
        hosts: Some(2),
        ..DevOptions::default()
    });
    let objects: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("obj-{i}"), vec![b'x'; 10_000 + i]))
        .collect();
    cluster.put_all("console-photos", &objects).await;
    let admin_addr = cluster
        .info
        .gateway
        .admin_addr
        .clone()
        .expect("cluster.toml names the gateway's admin listener");
    let admin_key = std::fs::read_to_string(cluster.data_dir().join("keys").join("admin.key"))
        .expect("the dev cluster's admin key");
    let ids: Vec<String> = (0..4).map(|i| cluster.service_id(i)).collect();
    let console = format!("http://{admin_addr}/console");

    // The browser is driven with blocking calls.
    let shot = tokio::task::block_in_place(|| {
        let mut b = Browser::launch(&bin);
        b.navigate(&console);

        // The login form, and no way around it to the data.
        b.wait_for(
            "the login form",
            "!!document.querySelector('form#login-form input#key[type=password]')",
            PAGE_TIMEOUT,
        );
        assert_eq!(b.eval("document.title"), json!("Spread console: log in"));
        for route in ["overview", "session"] {
            let status = b.eval(&format!(
                "fetch('/console/api/{route}').then(r => r.status)"
            ));
            assert_eq!(status, json!(401), "/console/api/{route} without a session");
        }

        // A wrong key (well formed: 64 hex digits) is refused, and the page says so.
        b.type_into("#key", &"0123456789abcdef".repeat(4));
        b.click("#login");
        b.wait_for(
            "the refusal",
            "!!document.querySelector('#login-error')",
            PAGE_TIMEOUT,
        );
        let refusal = b.eval("document.querySelector('#login-error').innerText");
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .contains("not the cluster's admin key"),
            "the refusal says why: {refusal}"
        );
        assert_eq!(b.eval("!!document.querySelector('#map')"), json!(false));

        // The admin key opens the console: every chunk server is on the map, up and green.
        b.type_into("#key", admin_key.trim());
        b.click("#login");
        b.wait_for(
            "the map with four chunk servers",
            "document.querySelectorAll('#map .volume').length === 4",
            PAGE_TIMEOUT,
        );
        for id in &ids {
            b.wait_for(&format!("{id} up"), &shows(id, "up", "UP"), PAGE_TIMEOUT);
            let c = colour(&mut b, id);
            assert!(greenish(c), "{id} is up but coloured {c:?}");
        }
        // Grouped by location: two hosts of the one rack, two volumes each.
        assert_eq!(
            b.eval("document.querySelectorAll('#map .dc .rack .host').length"),
            json!(2)
        );
        assert_eq!(
            b.eval(
                "Array.from(document.querySelectorAll('#map .host')).map(h => h.querySelectorAll('.volume').length)"
            ),
            json!([2, 2])
        );
        let score = b.eval(&format!(
            "{}.querySelector('.vol-score').innerText",
            volume(&ids[0])
        ));
        assert!(
            score.as_str().unwrap_or_default().starts_with("score "),
            "a volume shows its score: {score}"
        );
        // The account, its bucket and its usage; the policy; GC and rebuild.
        b.wait_for(
            "the bucket in the accounts table",
            "!!document.querySelector('#accounts tr.bucket[data-bucket=\"console-photos\"]')",
            PAGE_TIMEOUT,
        );
        let bucket_row = b.eval(
            "document.querySelector('#accounts tr.bucket[data-bucket=\"console-photos\"]').innerText",
        );
        assert!(
            bucket_row.as_str().unwrap_or_default().contains('3'),
            "the bucket row counts its 3 objects: {bucket_row}"
        );
        assert_eq!(
            b.eval("!!document.querySelector('#policies tr[data-policy=\"REPLICATE2\"]')"),
            json!(true)
        );
        assert_eq!(
            b.eval("!!document.querySelector('#rebuild-idle')"),
            json!(true)
        );
        assert!(
            b.eval("document.querySelector('#gc').innerText")
                .as_str()
                .unwrap_or_default()
                .contains("chunk deletions due")
        );
        // The session works for the JSON API now (the cookie, which scripts cannot read).
        assert_eq!(
            b.eval("fetch('/console/api/overview').then(r => r.status)"),
            json!(200)
        );
        assert_eq!(
            b.eval("document.cookie"),
            json!(""),
            "the cookie is HttpOnly"
        );
        // Logout is a form with the session's CSRF token: a post without it changes nothing.
        let forged = b.eval(
            "fetch('/console/logout', {method: 'POST', body: new URLSearchParams({csrf: 'guess'})})\
             .then(r => r.status)",
        );
        assert_eq!(forged, json!(403), "logout without the CSRF token");
        assert_eq!(
            b.eval("fetch('/console/api/session').then(r => r.status)"),
            json!(200),
            "the session outlives a forged logout"
        );

        // Marks this page: a reload would forget the mark.
        b.eval("window.consoleTestMark = 'same page'; true");

        // An operator's lock turns a server amber with its value, and back when lifted.
        let locked = &ids[3];
        cluster.admin_ok(&["cluster", "lock", locked, "--score", "5"]);
        b.wait_for(
            &format!("{locked} locked"),
            &shows(locked, "locked", "LOCKED at 5"),
            PAGE_TIMEOUT,
        );
        let c = colour(&mut b, locked);
        assert!(amber(c), "{locked} is locked but coloured {c:?}");
        cluster.admin_ok(&["cluster", "unlock", locked]);
        b.wait_for(
            &format!("{locked} up again"),
            &shows(locked, "up", "UP"),
            PAGE_TIMEOUT,
        );

        // Kill chunk server 1: the page turns it red on its own.
        cluster.kill_chunkd(1);
        let killed = &ids[1];
        b.wait_for(
            &format!("{killed} down"),
            &shows(killed, "down", "DOWN"),
            DOWN_TIMEOUT,
        );
        assert_eq!(
            b.eval("window.consoleTestMark"),
            json!("same page"),
            "the page was not reloaded"
        );
        let c = colour(&mut b, killed);
        assert!(reddish(c), "{killed} is down but coloured {c:?}");
        let text = b.eval(&format!("{}.innerText", volume(killed)));
        assert!(
            text.as_str().unwrap_or_default().contains("silent for"),
            "a down volume says how long it has been silent: {text}"
        );
        for id in ids.iter().filter(|id| *id != killed) {
            assert_eq!(b.eval(&shows(id, "up", "UP")), json!(true), "{id} stays up");
            let c = colour(&mut b, id);
            assert!(greenish(c), "{id} is up but coloured {c:?}");
        }
        let summary = b.eval("document.querySelector('#cluster-summary').innerText");
        assert!(
            summary.as_str().unwrap_or_default().contains("1 down"),
            "the summary counts the down server: {summary}"
        );
        let shot = b.screenshot("console.png");

        // Logging out ends the session: back to the form, the API closed again.
        b.click("#logout");
        b.wait_for(
            "the login form after logout",
            "!!document.querySelector('form#login-form')",
            PAGE_TIMEOUT,
        );
        assert_eq!(
            b.eval("fetch('/console/api/overview').then(r => r.status)"),
            json!(401)
        );
        shot
    });
    println!("console screenshot: {}", shot.display());
}

//! Runs the real `facereview serve` binary for a test: a fresh data folder, a known API key, loopback ICE, port
//! chosen by the OS (read from the start-up line). Stopped with SIGTERM (graceful shutdown) on `stop` or drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const API_KEY: &str = "test-api-key-0123456789";

pub struct ServerProc {
    pub url: String,
    pub data: PathBuf,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl ServerProc {
    /// Starts the server with `args` after `serve` (defaults: `--listen 127.0.0.1:0 --loopback`).
    pub fn start(name: &str, args: &[&str]) -> ServerProc {
        let data = super::temp_dir(name);
        Self::start_in(data, args)
    }

    pub fn start_in(data: PathBuf, args: &[&str]) -> ServerProc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_facereview"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--loopback"])
            .args(args)
            .env("FACEREVIEW_DATA", &data)
            .env("FACEREVIEW_API_KEY", API_KEY)
            .env("FACEREVIEW_HOME", super::root())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start facereview serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                let mut g = l.lock().unwrap_or_else(|p| p.into_inner());
                g.push_str(&line);
                g.push('\n');
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start; its log:\n{}", log.lock().unwrap_or_else(|p| p.into_inner()));
            }
        };
        ServerProc { url, data, child: Some(child), log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// SIGTERM, then wait (the server finalises live sessions first). Returns the exit code.
    pub fn stop(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A blocking HTTP client for tests (reqwest's async client on a private runtime).
pub struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Http {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        Http { rt, client: reqwest::Client::new() }
    }

    pub fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        self.try_send(req).expect("request sent")
    }

    /// Like `send`, but a transport error (e.g. the server closing the connection while a large body is still being
    /// written, after answering 413) is returned instead of panicking.
    pub fn try_send(&self, req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        self.rt.block_on(async {
            let resp = req.timeout(Duration::from_secs(60)).send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.text().await.unwrap_or_default();
            Ok(Reply { status, headers, body })
        })
    }

    pub fn get(&self, url: &str) -> Reply {
        self.send(self.client.get(url))
    }

    pub fn api_get(&self, url: &str) -> Reply {
        self.send(self.client.get(url).bearer_auth(API_KEY))
    }

    pub fn api_post(&self, url: &str, body: &serde_json::Value) -> Reply {
        self.send(self.client.post(url).bearer_auth(API_KEY).json(body))
    }

    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Reply {
        self.send(self.client.post(url).json(body))
    }

    pub fn post_sdp(&self, url: &str, bearer: Option<&str>, sdp: &str) -> Reply {
        let mut r = self.client.post(url).header("content-type", "application/sdp").body(sdp.to_owned());
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        self.send(r)
    }

    pub fn delete(&self, url: &str, bearer: &str) -> Reply {
        self.send(self.client.delete(url).bearer_auth(bearer))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Creates a session through the lender API; returns (id, join token, join url).
pub fn create_session(http: &Http, server: &ServerProc, body: &serde_json::Value) -> (String, String, String) {
    let r = http.api_post(&format!("{}/api/sessions", server.url), body);
    assert_eq!(r.status, 201, "create session: {}", r.body);
    let v = r.json();
    let url = v["join_url"].as_str().expect("join_url").to_owned();
    let token = url.rsplit('/').next().expect("token").to_owned();
    (v["id"].as_str().expect("id").to_owned(), token, url)
}

/// Polls the session until it reaches one of `states` (or panics after `timeout`, with the server log).
pub fn wait_state(http: &Http, server: &ServerProc, id: &str, states: &[&str], timeout: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let r = http.api_get(&format!("{}/api/sessions/{id}", server.url));
        let v = r.json();
        if states.iter().any(|s| v["state"] == *s) {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("session {id} stayed {} (wanted {states:?}); server log:\n{}", v["state"], server.log());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `facereview replay <session dir>` must succeed and report that its decision matches the live verdict.
pub fn assert_replay_matches(server: &ServerProc, dir: &std::path::Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_facereview"))
        .args(["replay", &dir.to_string_lossy()])
        .env("FACEREVIEW_DATA", &server.data)
        .output()
        .expect("replay runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay of {}: {stderr}\n{}", dir.display(), String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("matches the live verdict"), "{stderr}");
}

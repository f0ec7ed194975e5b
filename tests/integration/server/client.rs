//! The server under test (a child process, killed when dropped) and the clients for it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A slow flow: each round fails once, backs off 100 ms, and counts (two events a round).
pub(super) const SLOW: &str = "flow slow {
    state { n: int = 0, rounds: int = 10 }
    node pause { throw \"not yet\"; } retry 1 backoff 100ms
    node count { n += 1; }
    start -> pause
    pause -> count on error
    pause -> count
    count -> pause when n < rounds
    count -> end
}
";

pub(super) const REFUND: &str = include_str!("../../../examples/refund.flow");

pub(super) struct Server {
    child: Child,
    pub(super) base: String,
    pub(super) port: u16,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A port nobody listens on now (bound, read, given back).
pub(super) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub(super) fn flowc() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("flowc"))
}

impl Server {
    /// Starts `flowc serve` on `db` with `args`, and waits until it answers.
    pub(super) fn start(db: &Path, args: &[&str]) -> Server {
        Self::start_in(db.parent().unwrap(), db.as_os_str(), args)
    }

    /// Starts `flowc serve --db DB` in `dir`.
    pub(super) fn start_in(dir: &Path, db: &std::ffi::OsStr, args: &[&str]) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = flowc()
            .args(["serve", "--addr", &addr, "--db"])
            .arg(db)
            .args(args)
            .current_dir(dir)
            .env_remove("FLOWC_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let token = args
            .iter()
            .position(|arg| *arg == "--token")
            .map(|at| args[at + 1].to_owned());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut server = Server {
            child,
            base: format!("http://{addr}"),
            port,
            token,
            agent,
        };
        server.wait_until_up();
        server
    }

    fn wait_until_up(&mut self) {
        let until = Instant::now() + Duration::from_secs(15);
        // It says so on stderr once it listens.
        let stderr = self.child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        loop {
            assert!(Instant::now() < until, "the server did not start");
            match lines.next() {
                Some(Ok(line)) if line.contains("listening on") => break,
                Some(Ok(_)) => {}
                _ => panic!(
                    "the server exited before it listened: {:?}",
                    self.child.try_wait()
                ),
            }
        }
        // The rest of its stderr is drained so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit code.
    pub(super) fn terminate(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < until, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// GET: (status, JSON body).
    pub(super) fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .authorize(self.agent.get(format!("{}{path}", self.base)))
            .call()
            .unwrap();
        read(response)
    }

    /// GET with these headers only (no token unless given): (status, body text).
    pub(super) fn get_raw(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    /// POST a JSON body.
    pub(super) fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_text(path, "application/json", &body.to_string(), &[])
    }

    pub(super) fn post_text(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .authorize(self.agent.post(format!("{}{path}", self.base)))
            .header("Content-Type", content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send(body).unwrap())
    }

    pub(super) fn delete(&self, path: &str) -> (u16, Value) {
        let response = self
            .authorize(self.agent.delete(format!("{}{path}", self.base)))
            .call()
            .unwrap();
        read(response)
    }

    /// Creates a graph from source; its id.
    pub(super) fn create(&self, source: &str) -> String {
        let (status, body) = self.post_text("/graph/create", "text/plain", source, &[]);
        assert_eq!(status, 201, "{body}");
        body["graph_id"].as_str().unwrap().to_owned()
    }

    /// Starts a run; (status, body).
    pub(super) fn run(&self, graph: &str, state: &Value, wait: bool) -> (u16, Value) {
        self.post(
            "/graph/run",
            &json!({ "graph_id": graph, "initial_state": state, "wait": wait }),
        )
    }

    /// Starts a background run; its id.
    pub(super) fn start_run(&self, graph: &str, state: &Value) -> u64 {
        let (status, body) = self.run(graph, state, false);
        assert_eq!(status, 202, "{body}");
        body["run_id"].as_u64().unwrap()
    }

    pub(super) fn state(&self, run: u64) -> Value {
        let (status, body) = self.get(&format!("/graph/state/{run}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls the run until `done` holds of its view.
    pub(super) fn wait_for(&self, run: u64, done: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let view = self.state(run);
            if done(&view) {
                return view;
            }
            assert!(Instant::now() < until, "run {run} never got there: {view}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn wait_status(&self, run: u64, status: &str) -> Value {
        self.wait_for(run, |view| view["status"] == status)
    }

    /// A WebSocket to `path`, with the token when the server has one.
    pub(super) fn websocket(
        &self,
        path: &str,
    ) -> Result<
        tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
        Box<tungstenite::Error>,
    > {
        use tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://127.0.0.1:{}{path}", self.port)
            .into_client_request()
            .unwrap();
        if let Some(token) = &self.token {
            request
                .headers_mut()
                .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        }
        tungstenite::connect(request)
            .map(|(socket, _)| socket)
            .map_err(Box::new)
    }

    /// An SSE stream's `(id, data)` pairs, read one by one.
    pub(super) fn sse(
        &self,
        path: &str,
        last_event_id: Option<u64>,
    ) -> impl Iterator<Item = (Option<u64>, Value)> {
        let mut request = self.authorize(self.agent.get(format!("{}{path}", self.base)));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let mut lines = BufReader::new(response.into_body().into_reader()).lines();
        std::iter::from_fn(move || {
            let mut id = None;
            let mut data = None;
            loop {
                let line = lines.next()?.ok()?;
                if line.is_empty() {
                    if let Some(data) = data.take() {
                        return Some((id, data));
                    }
                    continue;
                }
                if let Some(text) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(text).unwrap());
                } else if let Some(text) = line.strip_prefix("id: ") {
                    id = Some(text.parse().unwrap());
                }
            }
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// The next text message of a WebSocket as JSON; `None` once it is closed.
pub(super) fn next_message(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> Option<Value> {
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => {
                return Some(serde_json::from_str(&text).unwrap());
            }
            Ok(tungstenite::Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

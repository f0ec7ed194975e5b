//! `flowc lsp` as an editor drives it: the real binary, JSON-RPC over its stdin and stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{Value, json};

struct Editor {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
}

const URI: &str = "file:///work/f.flow";

impl Editor {
    fn start() -> Editor {
        let mut child = Command::cargo_bin("flowc")
            .unwrap()
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            loop {
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                stdout.read_exact(&mut body).unwrap();
                if sender.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Editor {
            child,
            stdin,
            messages,
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: &Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(20))
            .expect("the server answers within 20 s")
    }

    /// Sends a request and returns its response (notifications meanwhile are dropped).
    fn request(&mut self, method: &str, params: &Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.next();
            if message["id"] == id {
                return message;
            }
        }
    }

    fn diagnostics(&self) -> Vec<Value> {
        loop {
            let message = self.next();
            if message["method"] == "textDocument/publishDiagnostics" {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn change(&mut self, version: u64, text: &str) {
        self.notify(
            "textDocument/didChange",
            &json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "text": text }],
            }),
        );
    }

    fn at(&mut self, method: &str, line: u32, character: u32, extra: &Value) -> Value {
        let mut params = json!({
            "textDocument": { "uri": URI },
            "position": { "line": line, "character": character },
        });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.request(method, &params)["result"].clone()
    }
    /// Starts the server, initializes it and opens `text`; the first diagnostics.
    fn open(text: &str) -> (Editor, Vec<Value>) {
        let mut editor = Editor::start();
        let init = editor.request("initialize", &json!({ "capabilities": {} }));
        assert_eq!(init["result"]["capabilities"]["hoverProvider"], true);
        editor.notify("initialized", &json!({}));
        editor.notify(
            "textDocument/didOpen",
            &json!({ "textDocument": { "uri": URI, "languageId": "flow", "version": 1, "text": text } }),
        );
        let diagnostics = editor.diagnostics();
        (editor, diagnostics)
    }

    fn shut_down(mut self) {
        let shutdown = self.request("shutdown", &Value::Null);
        assert_eq!(shutdown["result"], Value::Null);
        self.notify("exit", &Value::Null);
        assert!(self.child.wait().unwrap().success());
    }
}

const GOOD: &str = "flow f {
    state {
        n: int = 0
    }
    /// Adds one.
    node inc { n += 1 }
    node call = exec(cmd: \"true\")
    start -> inc -> call
    call -> inc when n < 3
    call -> end
}
";

#[test]
fn diagnostics_follow_every_change_with_codes_links_and_severities() {
    let (mut editor, broken) = Editor::open("flow f {\n  start -> \n");
    assert_eq!(broken[0]["code"], "flow::syntax", "{broken:?}");

    editor.change(2, "flow f {\n    node report\n    start -> reprt\n}\n");
    let undefined = editor.diagnostics();
    let first = &undefined[0];
    assert_eq!(first["code"], "flow::undefined-node", "{undefined:?}");
    assert_eq!(first["severity"], 1);
    assert_eq!(
        first["range"]["start"],
        json!({ "line": 2, "character": 13 })
    );
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `report`?")
    );
    assert!(
        first["codeDescription"]["href"]
            .as_str()
            .unwrap()
            .ends_with("docs/diagnostics.md#flowundefined-node")
    );

    editor.change(
        3,
        "flow f {\n    node a\n    node unused\n    start -> a\n}\n",
    );
    let warnings = editor.diagnostics();
    assert!(
        warnings
            .iter()
            .any(|d| d["code"] == "flow::unused-node" && d["severity"] == 2),
        "warnings are warnings: {warnings:?}"
    );

    editor.change(4, GOOD);
    assert_eq!(editor.diagnostics(), Vec::<Value>::new());
    editor.shut_down();
}

#[test]
fn hover_definition_and_references_know_nodes_tools_and_fields() {
    let (mut editor, _) = Editor::open(GOOD);
    // Hover on `inc` in `start -> inc`: its doc comment; on `exec`: the tool's signature.
    let hover = editor.at("textDocument/hover", 7, 14, &json!({}));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("Adds one."),
        "{hover}"
    );
    let tool = editor.at("textDocument/hover", 6, 18, &json!({}));
    assert!(
        tool["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("exec(cmd: string"),
        "{tool}"
    );
    let field = editor.at("textDocument/hover", 8, 21, &json!({}));
    assert!(
        field["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("`n: int`"),
        "{field}"
    );

    let definition = editor.at("textDocument/definition", 8, 14, &json!({}));
    assert_eq!(
        definition["range"]["start"],
        json!({ "line": 5, "character": 9 })
    );

    // `n`: declared in state, used in the script and in the guard.
    let context = json!({ "context": { "includeDeclaration": true } });
    let references = editor.at("textDocument/references", 2, 8, &context);
    let lines: Vec<u64> = references
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 5, 8]);
    editor.shut_down();
}

#[test]
fn completion_rename_symbols_and_formatting() {
    let (mut editor, _) = Editor::open(GOOD);
    let completion = editor.at("textDocument/completion", 8, 12, &json!({}));
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"inc") && labels.contains(&"call") && labels.contains(&"end"),
        "{labels:?}"
    );

    let rename = editor.at("textDocument/rename", 5, 10, &json!({ "newName": "step" }));
    let edits = rename["changes"][URI].as_array().unwrap();
    assert_eq!(edits.len(), 3, "{rename}");
    assert!(edits.iter().all(|edit| edit["newText"] == "step"));
    let at = json!({ "textDocument": { "uri": URI }, "position": { "line": 5, "character": 10 }, "newName": "call" });
    let refused = editor.request("textDocument/rename", &at);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already declared")
    );

    let document = json!({ "textDocument": { "uri": URI } });
    let symbols = editor.request("textDocument/documentSymbol", &document);
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|symbol| symbol["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n", "inc", "call"]);

    editor.change(2, "flow f{node a;start->a}");
    editor.diagnostics();
    let options = json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 4, "insertSpaces": true } });
    let formatting = editor.request("textDocument/formatting", &options);
    assert_eq!(
        formatting["result"][0]["newText"],
        "flow f {\n    node a\n    start -> a\n}\n"
    );
    editor.shut_down();
}

#[test]
fn a_broken_file_keeps_the_last_good_analysis_for_hover_and_completion() {
    let (mut editor, _) = Editor::open("flow f {\n    node a\n    start -> a\n}\n");
    editor.change(2, "flow f {\n    node a\n    start -> a ->\n");
    let broken = editor.diagnostics();
    assert_eq!(broken[0]["code"], "flow::syntax");
    let stale = editor.at("textDocument/hover", 2, 13, &json!({}));
    assert!(
        stale["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("node `a`"),
        "{stale}"
    );
    let completion = editor.at("textDocument/completion", 2, 17, &json!({}));
    assert!(
        completion
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["label"] == "a")
    );
    editor.shut_down();
}

#[test]
fn a_file_past_the_size_bound_is_not_checked_and_says_so() {
    let (mut editor, _) = Editor::open("flow f {\n    node a\n    start -> a\n}\n");
    let huge = format!(
        "flow f {{\n    node a\n    start -> a\n}}\n{}",
        "// padding\n".repeat(800_000)
    );
    editor.change(2, &huge);
    let refused = editor.diagnostics();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["code"], "flow::unreadable");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("more than the 8 MiB flowc checks"),
        "{refused:?}"
    );
    editor.change(3, "flow f {\n    node a\n    start -> a\n}\n");
    assert_eq!(editor.diagnostics(), Vec::<Value>::new());
    editor.shut_down();
}

#[test]
fn a_message_larger_than_the_bound_stops_the_server_with_a_clear_error() {
    // Content-Length alone would have the server allocate 1 TiB before reading the body.
    let mut child = Command::cargo_bin("flowc")
        .unwrap()
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "Content-Length: 1099511627776\r\n\r\n{{").unwrap();
    stdin.flush().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: flowc lsp: an LSP message of 1099511627776 bytes is larger than the 64 MiB flowc lsp reads\n"
    );
}

//! LSP over stdin and stdout, each message's size bounded. lsp-server's own stdio transport
//! allocates whatever a `Content-Length` header asks for before reading a byte of the body,
//! and reads a header line however long it is: one bad header from a client could exhaust
//! memory. Here a header line is at most [`MAX_HEADER_LINE`] bytes and a body at most
//! [`MAX_MESSAGE_BYTES`] (eight times the largest flow `flowc lsp` checks, so an oversized
//! document still arrives and gets its diagnostic); past either, the reader stops with an
//! error that `flowc lsp` reports as it exits.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Sender, bounded};
use lsp_server::{Connection, Message};

use crate::source::MAX_FLOW_BYTES;

/// The longest message body read.
pub(super) const MAX_MESSAGE_BYTES: u64 = 8 * MAX_FLOW_BYTES;
/// The longest header line read, its `\r\n` included.
const MAX_HEADER_LINE: u64 = 1024;

/// The writer thread, and why the reader stopped if it failed.
pub(super) struct Transport {
    read_failure: Arc<Mutex<Option<String>>>,
    writer: JoinHandle<io::Result<()>>,
}

/// A connection over stdin and stdout.
pub(super) fn stdio() -> (Connection, Transport) {
    let (to_server, receiver) = bounded::<Message>(0);
    let (sender, from_server) = bounded::<Message>(0);
    let read_failure = Arc::new(Mutex::new(None));
    let failure = Arc::clone(&read_failure);
    // Not joined: at the end it may still wait on stdin, and the process is ending.
    thread::spawn(move || {
        if let Err(error) = forward(&mut io::stdin().lock(), &to_server) {
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        }
        // The server sees the input end only now, after the failure is told.
        drop(to_server);
    });
    let writer = thread::spawn(move || {
        let mut output = io::stdout().lock();
        for message in from_server {
            message.write(&mut output)?;
        }
        Ok(())
    });
    let transport = Transport {
        read_failure,
        writer,
    };
    (Connection { sender, receiver }, transport)
}

/// Sends each message read to the server, up to the `exit` notification.
fn forward(input: &mut impl BufRead, to_server: &Sender<Message>) -> io::Result<()> {
    while let Some(message) = read_message(input)? {
        let exit = matches!(&message, Message::Notification(note) if note.method == "exit");
        if to_server.send(message).is_err() || exit {
            break;
        }
    }
    Ok(())
}

impl Transport {
    /// Waits for the writer (the connection must be dropped first). The error is the
    /// reader's first, as it explains why the server stopped.
    pub(super) fn finish(self) -> Result<(), String> {
        let read_failure = self
            .read_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let written = match self.writer.join() {
            Ok(result) => result.map_err(|error| error.to_string()),
            Err(_) => Err("the LSP writer thread panicked".to_owned()),
        };
        read_failure.map_or(written, Err)
    }
}

/// The next message, `None` at the end of the input.
fn read_message(input: &mut impl BufRead) -> io::Result<Option<Message>> {
    let mut size = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        input.take(MAX_HEADER_LINE).read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Ok(None);
        }
        let Some(text) = line.strip_suffix(b"\r\n") else {
            return Err(invalid(if line.len() as u64 == MAX_HEADER_LINE {
                format!("an LSP header line is longer than {MAX_HEADER_LINE} bytes")
            } else {
                format!("malformed LSP header {:?}", String::from_utf8_lossy(&line))
            }));
        };
        if text.is_empty() {
            break;
        }
        let text = std::str::from_utf8(text).map_err(invalid)?;
        let (name, value) = text
            .split_once(": ")
            .ok_or_else(|| invalid(format!("malformed LSP header {text:?}")))?;
        if name.eq_ignore_ascii_case("Content-Length") {
            size = Some(value.trim().parse::<u64>().map_err(invalid)?);
        }
    }
    let size = size.ok_or_else(|| invalid("an LSP message without Content-Length"))?;
    if size > MAX_MESSAGE_BYTES {
        return Err(invalid(format!(
            "an LSP message of {size} bytes is larger than the {} MiB flowc lsp reads",
            MAX_MESSAGE_BYTES >> 20
        )));
    }
    let mut body = vec![0; usize::try_from(size).map_err(invalid)?];
    input.read_exact(&mut body)?;
    serde_json::from_slice(&body).map(Some).map_err(invalid)
}

fn invalid(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

#[cfg(test)]
mod tests {
    use super::{MAX_MESSAGE_BYTES, read_message};
    use lsp_server::Message;

    fn framed(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    fn read(bytes: &[u8]) -> Result<Option<Message>, String> {
        read_message(&mut &bytes[..]).map_err(|error| error.to_string())
    }

    #[test]
    fn reads_framed_messages_until_the_end() {
        let mut bytes = framed(r#"{"jsonrpc":"2.0","method":"exit"}"#);
        bytes.extend(framed(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#));
        let mut input = &bytes[..];
        assert!(matches!(
            read_message(&mut input).unwrap(),
            Some(Message::Notification(note)) if note.method == "exit"
        ));
        assert!(matches!(
            read_message(&mut input).unwrap(),
            Some(Message::Request(_))
        ));
        assert!(read_message(&mut input).unwrap().is_none());
    }

    #[test]
    fn a_size_past_the_bound_is_refused_before_anything_is_held() {
        let huge = format!("Content-Length: {}\r\n\r\n{{", u64::MAX);
        assert_eq!(
            read(huge.as_bytes()).unwrap_err(),
            format!(
                "an LSP message of {} bytes is larger than the 64 MiB flowc lsp reads",
                u64::MAX
            )
        );
        let just_over = format!("Content-Length: {}\r\n\r\n", MAX_MESSAGE_BYTES + 1);
        assert!(read(just_over.as_bytes()).is_err());
        let endless = vec![b'X'; 10_000];
        assert_eq!(
            read(&endless).unwrap_err(),
            "an LSP header line is longer than 1024 bytes"
        );
        assert!(read(b"Content-Length: 5\n\n").is_err());
        assert!(read(b"\r\n{}").is_err());
        assert!(read(&framed("not json")).is_err());
    }
}

//! `flowc serve` as a real process on a free loopback port with a temporary store, driven by
//! real HTTP (ureq) and WebSocket (tungstenite) clients: graphs, sync and background runs,
//! cancel, resume, idempotency keys, streams that join mid-run and reconnect, the token, bad
//! input, a graceful stop, and a SIGKILL followed by a restart on the same file.

mod client;
mod crash;
mod files;
mod graphs;
mod requests;
mod runs;
mod streams;

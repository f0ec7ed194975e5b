//! `flowc lsp`: a Language Server Protocol server over stdio (lsp-server and lsp-types, the
//! crates rust-analyzer is built on). Diagnostics on open and on change (debounced), hover,
//! go to definition, references, completion, rename, quick fixes, formatting and document
//! symbols, all from the compiler's own parse and check. See `docs/editors.md`.

mod document;
mod features;
mod index;
mod position;
mod transport;

use std::collections::HashMap;
use std::time::Duration;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    References, Rename, Request as _,
};
use lsp_types::{
    CompletionOptions, InitializeParams, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::document::Document;
use crate::tools::ToolRegistry;

/// How long after a change diagnostics wait for the next keystroke.
const DEBOUNCE: Duration = Duration::from_millis(10);

/// Serves one editor on stdin/stdout until it shuts the server down.
pub fn serve_stdio(registry: ToolRegistry) -> Result<(), String> {
    let (connection, transport) = transport::stdio();
    let served = serve(&connection, registry);
    drop(connection);
    // Why the input stopped explains a server that stopped with it.
    transport.finish().and(served)
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![">".into(), "=".into(), "(".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    registry: ToolRegistry,
    documents: HashMap<Uri, Document>,
    /// Documents changed since their diagnostics were last published.
    dirty: Vec<Uri>,
    /// Where `docs/diagnostics.md` is, for the link on each code.
    docs_url: String,
}

fn serve(connection: &Connection, registry: ToolRegistry) -> Result<(), String> {
    let capabilities = serde_json::to_value(capabilities()).expect("capabilities serialize");
    let params = connection
        .initialize(capabilities)
        .map_err(|error| error.to_string())?;
    let params: InitializeParams = serde_json::from_value(params).map_err(|e| e.to_string())?;
    let docs_url = params
        .initialization_options
        .as_ref()
        .and_then(|options| options.get("diagnosticsUrl"))
        .and_then(Value::as_str)
        .map_or_else(
            || format!("file://{}/docs/diagnostics.md", env!("CARGO_MANIFEST_DIR")),
            str::to_owned,
        );
    let mut server = Server {
        connection,
        registry,
        documents: HashMap::new(),
        dirty: Vec::new(),
        docs_url,
    };
    loop {
        let message = if server.dirty.is_empty() {
            connection.receiver.recv().map_err(|e| e.to_string())?
        } else {
            match connection.receiver.recv_timeout(DEBOUNCE) {
                Ok(message) => message,
                Err(error) if error.is_timeout() => {
                    server.publish();
                    continue;
                }
                Err(_) => return Err("the editor went away".into()),
            }
        };
        match message {
            Message::Request(request) => {
                if connection
                    .handle_shutdown(&request)
                    .map_err(|e| e.to_string())?
                {
                    return Ok(());
                }
                server.publish();
                let response = server.answer(request);
                server.send(response.into());
            }
            Message::Notification(notification) => server.notify(notification),
            Message::Response(_) => {}
        }
    }
}

fn params<P: DeserializeOwned>(value: Value) -> Result<P, serde_json::Error> {
    serde_json::from_value(value)
}

impl Server<'_> {
    fn send(&self, message: Message) {
        // A closed connection ends the loop at the next receive.
        let _ = self.connection.sender.send(message);
    }

    fn notify(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(open) =
                    params::<lsp_types::DidOpenTextDocumentParams>(notification.params)
                {
                    let uri = open.text_document.uri;
                    self.documents.insert(
                        uri.clone(),
                        Document::new(uri.clone(), open.text_document.text),
                    );
                    self.mark(uri);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(change) =
                    params::<lsp_types::DidChangeTextDocumentParams>(notification.params)
                    && let Some(document) = self.documents.get_mut(&change.text_document.uri)
                    && let Some(last) = change.content_changes.into_iter().last()
                {
                    document.set_text(last.text);
                    self.mark(change.text_document.uri);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(close) =
                    params::<lsp_types::DidCloseTextDocumentParams>(notification.params)
                {
                    let uri = close.text_document.uri;
                    self.documents.remove(&uri);
                    self.dirty.retain(|dirty| *dirty != uri);
                    self.publish_for(uri, Vec::new());
                }
            }
            _ => {}
        }
    }

    fn mark(&mut self, uri: Uri) {
        if !self.dirty.contains(&uri) {
            self.dirty.push(uri);
        }
    }

    /// Checks every changed document and sends its diagnostics.
    fn publish(&mut self) {
        for uri in std::mem::take(&mut self.dirty) {
            let Some(document) = self.documents.get_mut(&uri) else {
                continue;
            };
            let diagnostics = document.analyze(&self.registry, &self.docs_url);
            self.publish_for(uri, diagnostics);
        }
    }

    fn publish_for(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) {
        let params = PublishDiagnosticsParams::new(uri, diagnostics, None);
        self.send(Notification::new(PublishDiagnostics::METHOD.to_owned(), params).into());
    }

    fn document(&self, uri: &Uri) -> Option<&Document> {
        self.documents.get(uri)
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => self.with::<lsp_types::HoverParams, _>(request, |server, p| {
                let at = p.text_document_position_params;
                server
                    .document(&at.text_document.uri)
                    .and_then(|doc| features::hover(doc, at.position, &server.registry))
            }),
            GotoDefinition::METHOD => {
                self.with::<lsp_types::GotoDefinitionParams, _>(request, |server, p| {
                    let at = p.text_document_position_params;
                    server
                        .document(&at.text_document.uri)
                        .and_then(|doc| features::definition(doc, at.position))
                })
            }
            References::METHOD => {
                self.with::<lsp_types::ReferenceParams, _>(request, |server, p| {
                    let at = p.text_document_position;
                    server.document(&at.text_document.uri).map(|doc| {
                        features::references(doc, at.position, p.context.include_declaration)
                    })
                })
            }
            Completion::METHOD => {
                self.with::<lsp_types::CompletionParams, _>(request, |server, p| {
                    let at = p.text_document_position;
                    server
                        .document(&at.text_document.uri)
                        .map(|doc| features::completion(doc, at.position, &server.registry))
                })
            }
            DocumentSymbolRequest::METHOD => self
                .with::<lsp_types::DocumentSymbolParams, _>(request, |server, p| {
                    server.document(&p.text_document.uri).map(features::symbols)
                }),
            CodeActionRequest::METHOD => {
                self.with::<lsp_types::CodeActionParams, _>(request, |server, p| {
                    server
                        .document(&p.text_document.uri)
                        .map(|doc| features::code_actions(doc, p.range))
                })
            }
            Formatting::METHOD => {
                self.with::<lsp_types::DocumentFormattingParams, _>(request, |server, p| {
                    server
                        .document(&p.text_document.uri)
                        .and_then(features::formatting)
                })
            }
            Rename::METHOD => {
                let Ok(p) = serde_json::from_value::<lsp_types::RenameParams>(request.params)
                else {
                    return invalid(id);
                };
                let at = p.text_document_position;
                let Some(doc) = self.document(&at.text_document.uri) else {
                    return Response::new_ok(id, Value::Null);
                };
                return match features::rename(doc, at.position, &p.new_name) {
                    Ok(edit) => Response::new_ok(id, edit),
                    Err(refused) => {
                        Response::new_err(id, ErrorCode::RequestFailed as i32, refused.message())
                    }
                };
            }
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("flowc lsp does not answer `{}`", request.method),
                );
            }
        };
        match result {
            Some(value) => Response::new_ok(id, value),
            None => invalid(id),
        }
    }

    /// Runs `answer` on the request's parameters; `None` when they do not parse.
    fn with<P: DeserializeOwned, R: serde::Serialize>(
        &self,
        request: Request,
        answer: impl FnOnce(&Self, P) -> Option<R>,
    ) -> Option<Value> {
        let params = serde_json::from_value::<P>(request.params).ok()?;
        Some(serde_json::to_value(answer(self, params)).expect("LSP types serialize"))
    }
}

fn invalid(id: lsp_server::RequestId) -> Response {
    Response::new_err(
        id,
        ErrorCode::InvalidParams as i32,
        "the parameters do not fit the method".into(),
    )
}

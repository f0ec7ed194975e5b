//! One `.flow` file: its display name and its text, shared cheaply with diagnostics.

use std::sync::Arc;

use miette::NamedSource;

/// The largest `.flow` file flowc reads by default (`--max-flow-size`) and the largest
/// document `flowc lsp` checks. 8 MiB is far above any flow written by hand or generated (a
/// flow of 100,000 nodes is 4 MiB), and checking one costs some 40 times its size in memory,
/// so the bound also bounds that (about 350 MB).
pub const MAX_FLOW_BYTES: u64 = 8 << 20;

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.name.clone(), Arc::clone(&self.text))
    }
}

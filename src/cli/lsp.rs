//! `flowc lsp`: the language server, for editors (see `docs/editors.md`).

use crate::cli::exit;
use crate::cli::output::eprint;
use crate::tools::ToolRegistry;

#[derive(Debug, clap::Args)]
pub(super) struct LspArgs {
    /// Speak LSP over stdin and stdout (the only transport; editors pass it).
    #[arg(long)]
    stdio: bool,
}

pub(super) fn run(_args: &LspArgs, registry: ToolRegistry) -> u8 {
    match crate::lsp::serve_stdio(registry) {
        Ok(()) => exit::OK,
        Err(message) => {
            eprint(format_args!("error: flowc lsp: {message}\n"));
            exit::USAGE
        }
    }
}

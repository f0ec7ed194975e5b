//! `flowc graph FILE --format mermaid|dot`: the flow as a picture, on stdout.

use std::path::PathBuf;

use crate::cli::exit;
use crate::cli::input::{ColorChoice, FlowSize, read_flow, use_color, width};
use crate::cli::output::{Stdout, eprint, usage};
use crate::tools::ToolRegistry;

#[derive(Debug, clap::Args)]
pub(super) struct GraphArgs {
    /// The `.flow` file to draw.
    file: PathBuf,
    /// The graph language.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    #[command(flatten)]
    size: FlowSize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum GraphFormat {
    /// Mermaid flowchart (renders on GitHub, in many editors and docs sites).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

pub(super) fn run(args: &GraphArgs, registry: &ToolRegistry) -> u8 {
    let source = match read_flow(&args.file, args.size) {
        Ok(source) => source,
        Err(message) => return usage(message),
    };
    let checked = crate::check(&source, registry);
    let Some(program) = checked.program else {
        eprint(
            checked
                .report
                .render_human(use_color(ColorChoice::Auto), width()),
        );
        return exit::COMPILE;
    };
    let mut out = Stdout::new();
    out.print(match args.format {
        GraphFormat::Mermaid => crate::graph::mermaid(&program),
        GraphFormat::Dot => crate::graph::dot(&program),
    });
    out.finish(exit::OK)
}

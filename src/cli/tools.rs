//! `flowc tools`: what a flow can call.

use crate::cli::exit;
use crate::cli::output::Stdout;
use crate::tools::ToolRegistry;

#[derive(Debug, clap::Args)]
pub(super) struct ToolsArgs {
    /// Print the registry as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: &ToolsArgs, registry: &ToolRegistry) -> u8 {
    let mut out = Stdout::new();
    if args.json {
        let tools: Vec<_> = registry.iter().collect();
        out.print(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&tools).expect("tool specs serialize")
        ));
        return out.finish(exit::OK);
    }
    for tool in registry.iter() {
        out.print(format_args!("{}\n", tool.signature()));
        out.print(format_args!("    {}\n", tool.description));
        for arg in &tool.args {
            out.print(format_args!("    {:<10} {}\n", arg.name, arg.description));
        }
        out.print("\n");
    }
    out.finish(exit::OK)
}

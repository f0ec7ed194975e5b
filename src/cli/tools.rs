//! `flowc tools`: what a flow can call.

use crate::cli::exit;
use crate::tools::ToolRegistry;

#[derive(Debug, clap::Args)]
pub(super) struct ToolsArgs {
    /// Print the registry as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(args: &ToolsArgs, registry: &ToolRegistry) -> u8 {
    if args.json {
        let tools: Vec<_> = registry.iter().collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&tools).expect("tool specs serialize")
        );
        return exit::OK;
    }
    for tool in registry.iter() {
        println!("{}", tool.signature());
        println!("    {}", tool.description);
        for arg in &tool.args {
            println!("    {:<10} {}", arg.name, arg.description);
        }
        println!();
    }
    exit::OK
}

//! `flowc check FILE…`: every diagnostic of every file, in the chosen format.

use std::path::PathBuf;

use serde_json::json;

use crate::cli::exit;
use crate::cli::input::{ColorChoice, FlowSize, read_flow, use_color, width};
use crate::cli::output::{Stdout, eprint, usage};
use crate::tools::ToolRegistry;

#[derive(Debug, clap::Args)]
pub(super) struct CheckArgs {
    /// The `.flow` files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    deny_warnings: bool,
    /// Print the compiled IR as JSON on stdout (one file only).
    #[arg(long)]
    emit_ir: bool,
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(flatten)]
    size: FlowSize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Reports with source excerpts, on stderr.
    Human,
    /// `path:line:col: severity[code]: message`, one per line on stdout.
    Short,
    /// One JSON document on stdout.
    Json,
}

pub(super) fn run(args: &CheckArgs, registry: &ToolRegistry) -> u8 {
    if args.emit_ir && args.files.len() != 1 {
        return usage("--emit-ir takes exactly one file");
    }
    let mut out = Stdout::new();
    let color = use_color(args.color);
    let mut unreadable = 0;
    let (mut errors, mut warnings) = (0, 0);
    let mut documents = Vec::new();
    for path in &args.files {
        let source = match read_flow(path, args.size) {
            Ok(source) => source,
            Err(message) => {
                unreadable += 1;
                match args.format {
                    Format::Json => documents.push(
                        json!({ "path": path.display().to_string(), "error": message.to_string() }),
                    ),
                    Format::Short => out.print(format_args!(
                        "{}:1:1: error[flow::unreadable]: {message}\n",
                        path.display()
                    )),
                    Format::Human => eprint(format_args!("error: {message}\n")),
                }
                continue;
            }
        };
        let checked = crate::check(&source, registry);
        let report = &checked.report;
        errors += report.error_count();
        warnings += report.warning_count();
        match args.format {
            Format::Human => eprint(report.render_human(color, width())),
            Format::Short => out.print(report.render_short()),
            Format::Json => documents.push(report.to_json()),
        }
        if args.emit_ir
            && let Some(program) = &checked.program
        {
            out.print(format_args!(
                "{}\n",
                serde_json::to_string_pretty(program).expect("the IR serializes")
            ));
        }
    }
    match args.format {
        Format::Json => out.print(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "version": 1,
                "files": documents,
                "errors": errors,
                "warnings": warnings,
            }))
            .expect("JSON values serialize")
        )),
        Format::Human => eprint(format_args!(
            "{}\n",
            summary(args.files.len(), unreadable, errors, warnings)
        )),
        Format::Short => {}
    }
    out.finish(if unreadable > 0 {
        exit::USAGE
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        exit::COMPILE
    } else {
        exit::OK
    })
}

fn summary(files: usize, unreadable: usize, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let checked = plural(files - unreadable, "file");
    let unread = if unreadable > 0 {
        format!(" ({unreadable} could not be read)")
    } else {
        String::new()
    };
    match (errors, warnings) {
        (0, 0) => format!("checked {checked}{unread}: no problems"),
        _ => format!(
            "checked {checked}{unread}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

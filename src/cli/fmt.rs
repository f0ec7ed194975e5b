//! `flowc fmt FILE…`: rewrites flows in the canonical layout (`--check`: only lists those
//! that would change; `-`: stdin to stdout, for editors).

use std::path::{Path, PathBuf};

use crate::cli::exit;
use crate::cli::input::{ColorChoice, FlowSize, read_flow_from, use_color, width};
use crate::cli::output::{Stdout, eprint};
use crate::diagnostics::FileReport;
use crate::fmt::format;
use crate::source::SourceFile;

#[derive(Debug, clap::Args)]
pub(super) struct FmtArgs {
    /// The `.flow` files to format; a folder means every `.flow` file in it, `-` stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    /// Colour in diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(flatten)]
    size: FlowSize,
}

/// What became of one file.
enum Outcome {
    Unchanged,
    Changed,
    /// Not formatted: it does not parse (the diagnostic is printed) or cannot be read.
    Failed {
        unreadable: bool,
    },
}

pub(super) fn run(args: &FmtArgs) -> u8 {
    let mut out = Stdout::new();
    let (mut changed, mut failed, mut unreadable) = (0, 0, 0);
    for path in expand(&args.files) {
        let stdin = path.as_os_str() == "-";
        let outcome = match read_flow_from((!stdin).then_some(path.as_path()), args.size) {
            Err(message) => {
                eprint(format_args!("error: {message}\n"));
                Outcome::Failed { unreadable: true }
            }
            Ok(source) => match format(&source) {
                Err(error) => {
                    report(args, source, error);
                    Outcome::Failed { unreadable: false }
                }
                Ok(formatted) if stdin => {
                    out.print(&formatted);
                    if formatted == *source.text {
                        Outcome::Unchanged
                    } else {
                        Outcome::Changed
                    }
                }
                Ok(formatted) if formatted == *source.text => Outcome::Unchanged,
                Ok(_) if args.check => {
                    out.print(format_args!("{}\n", path.display()));
                    Outcome::Changed
                }
                Ok(formatted) => match write(&path, &formatted) {
                    Ok(()) => Outcome::Changed,
                    Err(error) => {
                        eprint(format_args!(
                            "error: cannot write `{}`: {error}\n",
                            path.display()
                        ));
                        Outcome::Failed { unreadable: true }
                    }
                },
            },
        };
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Changed => changed += 1,
            Outcome::Failed { unreadable: true } => unreadable += 1,
            Outcome::Failed { unreadable: false } => failed += 1,
        }
    }
    if args.check && changed > 0 {
        eprint(format_args!(
            "{changed} file{} not formatted: run `flowc fmt` on {}\n",
            if changed == 1 { " is" } else { "s are" },
            if changed == 1 { "it" } else { "them" }
        ));
    }
    out.finish(if unreadable > 0 {
        exit::USAGE
    } else if failed > 0 || (args.check && changed > 0) {
        exit::COMPILE
    } else {
        exit::OK
    })
}

fn report(args: &FmtArgs, source: SourceFile, error: crate::fmt::FormatError) {
    let mut report = FileReport::new(source);
    report.problems.push(Box::new(error));
    eprint(report.render_human(use_color(args.color), width()));
}

/// The files named, with each folder replaced by the `.flow` files under it, sorted.
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            // Unreadable: named as given, so reading it reports why.
            found.push(dir.to_owned());
            return;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "flow") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found);
        } else {
            found.push(path.clone());
        }
    }
    found
}

/// Replaces the file through a sibling temporary file, so an interrupted write leaves the
/// old text or the new, never half of it.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |name| name.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.fmt-{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(&temporary, metadata.permissions())?;
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

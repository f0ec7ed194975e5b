//! Reading `.flow` files (a missing file or one that is not UTF-8 is a clear message, not a
//! panic, and the caller exits with code 2), and what the terminal allows: colour, width,
//! a live status line.

use std::path::Path;

use crate::source::SourceFile;

pub(super) fn read_flow(path: &Path) -> Result<SourceFile, String> {
    let bytes = std::fs::read(path)
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        format!(
            "`{}` is not valid UTF-8 (first invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        )
    })?;
    Ok(SourceFile::new(path.display().to_string(), text))
}

/// Colour for human output: on a terminal unless `NO_COLOR` is set, or as `--color` says
/// (`NO_COLOR` wins over `always` too).
pub(super) fn use_color(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    match choice {
        ColorChoice::Auto => std::io::stderr().is_terminal(),
        ColorChoice::Always => true,
        ColorChoice::Never => false,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Width for human diagnostics: the terminal's `COLUMNS` if set, else 100.
pub(super) fn width() -> usize {
    columns().filter(|w| *w >= 40).unwrap_or(100)
}

/// The terminal's width as `COLUMNS` says, if it is set (shells often do not export it).
pub(super) fn columns() -> Option<usize> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

/// Whether stderr can show a live status line: a terminal that can erase a line (not
/// `TERM=dumb`). Anywhere else stderr gets the step lines alone, byte for byte.
pub(super) fn live_status() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

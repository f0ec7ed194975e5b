//! Reading the command's inputs (`.flow` files, the `--state` file or stdin) and what the
//! terminal allows: colour, width, a live status line. Every input is read through a size
//! bound, so `/dev/zero` or an endless pipe is refused instead of filling memory; a missing
//! file, one too large or one that is not UTF-8 is a clear message (and the caller exits
//! with code 2), not a panic.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use crate::source::SourceFile;

/// What an input could not be read for.
#[derive(Debug, thiserror::Error)]
pub(super) enum InputError {
    #[error("cannot read {input}: {error}")]
    Unreadable { input: String, error: io::Error },
    #[error(
        "{input} is larger than {limit}; to read it, raise the bound with `--{flag} SIZE` \
         (or {env})",
        flag = bound.flag(),
        env = bound.env()
    )]
    TooLarge {
        input: String,
        limit: ByteSize,
        bound: Bound,
    },
    #[error("{input} is not valid UTF-8 (first invalid byte at offset {offset})")]
    NotUtf8 { input: String, offset: usize },
}

/// Which size setting bounds an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bound {
    Flow,
    State,
}

impl Bound {
    fn flag(self) -> &'static str {
        match self {
            Bound::Flow => "max-flow-size",
            Bound::State => "max-state-size",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Bound::Flow => "FLOWC_MAX_FLOW_SIZE",
            Bound::State => "FLOWC_MAX_STATE_SIZE",
        }
    }
}

/// `--max-flow-size`: the bound on each `.flow` file, by default
/// [`crate::source::MAX_FLOW_BYTES`].
#[derive(Clone, Copy, Debug, clap::Args)]
pub(super) struct FlowSize {
    /// The largest `.flow` file read, e.g. `8MiB`, `512KiB`, or a number of bytes; a larger
    /// file is refused (exit 2).
    #[arg(
        long = "max-flow-size",
        value_name = "SIZE",
        env = "FLOWC_MAX_FLOW_SIZE",
        default_value_t = ByteSize(crate::source::MAX_FLOW_BYTES),
        value_parser = parse_size
    )]
    pub(super) max_flow_size: ByteSize,
}

/// A number of bytes, written `64MiB`, `512KiB`, `1GiB` or as plain bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteSize(pub(super) u64);

const UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, size) = UNITS
            .iter()
            .find(|(_, size)| self.0 >= *size && self.0.is_multiple_of(*size))
            .copied()
            .unwrap_or(("B", 1));
        if size == 1 {
            let plural = if self.0 == 1 { "" } else { "s" };
            write!(f, "{} byte{plural}", self.0)
        } else {
            write!(f, "{} {unit}", self.0 / size)
        }
    }
}

pub(super) fn parse_size(text: &str) -> Result<ByteSize, String> {
    let text = text.trim();
    let (digits, unit) = UNITS
        .iter()
        .find_map(|(unit, size)| Some((text.strip_suffix(unit)?, *size)))
        .unwrap_or((text, 1));
    let bytes = digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| {
            format!(
                "write a size such as `64MiB`, `512KiB`, `1GiB` or a number of bytes, not `{text}`"
            )
        })?;
    if bytes == 0 {
        return Err("the size must be at least 1 byte".to_owned());
    }
    Ok(ByteSize(bytes))
}

/// An `--allow-path` value: a folder that exists (a misspelt one would allow nothing and
/// say so only when a tool fails).
pub(super) fn parse_folder(text: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(text);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("`{text}` is not a folder"))
    }
}

/// Reads at most `limit` bytes; `None` when there are more.
fn read_bounded(reader: impl Read, limit: ByteSize) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.0.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit.0).then_some(bytes))
}

/// Reads a whole file, or stdin for `None`, through `bound`'s `limit`.
pub(super) fn read_input(
    path: Option<&Path>,
    bound: Bound,
    limit: ByteSize,
) -> Result<Vec<u8>, InputError> {
    let input = describe(path);
    let read = match path {
        None => read_bounded(io::stdin().lock(), limit),
        Some(path) => std::fs::File::open(path).and_then(|file| read_bounded(file, limit)),
    };
    match read {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(InputError::TooLarge {
            input,
            limit,
            bound,
        }),
        Err(error) => Err(InputError::Unreadable { input, error }),
    }
}

/// `` `path` ``, or `stdin`.
pub(super) fn describe(path: Option<&Path>) -> String {
    path.map_or_else(
        || "stdin".to_owned(),
        |path| format!("`{}`", path.display()),
    )
}

pub(super) fn read_flow(path: &Path, size: FlowSize) -> Result<SourceFile, InputError> {
    read_flow_from(Some(path), size)
}

/// A `.flow` file, or stdin for `None` (named `<stdin>` in diagnostics).
pub(super) fn read_flow_from(
    path: Option<&Path>,
    size: FlowSize,
) -> Result<SourceFile, InputError> {
    let bytes = read_input(path, Bound::Flow, size.max_flow_size)?;
    let text = String::from_utf8(bytes).map_err(|error| InputError::NotUtf8 {
        input: describe(path),
        offset: error.utf8_error().valid_up_to(),
    })?;
    let name = path.map_or_else(|| "<stdin>".to_owned(), |path| path.display().to_string());
    Ok(SourceFile::new(name, text))
}

/// Colour for human output: on a terminal that is not `TERM=dumb` unless `NO_COLOR` is
/// set, or as `--color` says (`NO_COLOR` wins over `always` too).
pub(super) fn use_color(choice: ColorChoice) -> bool {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    match choice {
        ColorChoice::Auto => capable_terminal(),
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

/// The width when neither the terminal nor `COLUMNS` tells.
pub(super) const DEFAULT_WIDTH: usize = 100;

/// Width for human diagnostics: [`columns`] when it is at least 40, else 100.
pub(super) fn width() -> usize {
    columns().filter(|w| *w >= 40).unwrap_or(DEFAULT_WIDTH)
}

/// The width of the terminal stderr is on (everything human goes there), else `COLUMNS`
/// if it is set (shells often do not export it; it is how a test or a pipe asks for one).
pub(super) fn columns() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(terminal_size::Width(columns), _)| usize::from(columns))
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
}

/// Whether stderr can show a live status line. Anywhere else stderr gets the step lines
/// alone, byte for byte.
pub(super) fn live_status() -> bool {
    capable_terminal()
}

/// Whether stderr is a terminal that takes escape codes (colour, erasing a line): any but
/// `TERM=dumb`, which says it takes none.
fn capable_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{ByteSize, parse_size, read_bounded};

    #[test]
    fn sizes_take_binary_units_or_bytes() {
        assert_eq!(parse_size("8MiB"), Ok(ByteSize(8 << 20)));
        assert_eq!(parse_size("512KiB"), Ok(ByteSize(512 << 10)));
        assert_eq!(parse_size("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(parse_size("100"), Ok(ByteSize(100)));
        assert_eq!(parse_size("100B"), Ok(ByteSize(100)));
        assert_eq!(parse_size(" 2 MiB "), Ok(ByteSize(2 << 20)));
        for bad in [
            "",
            "MiB",
            "-1",
            "1.5MiB",
            "8MB",
            "lots",
            "99999999999999GiB",
        ] {
            assert!(
                parse_size(bad)
                    .unwrap_err()
                    .starts_with("write a size such as"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_size("0KiB").unwrap_err(),
            "the size must be at least 1 byte"
        );
    }

    #[test]
    fn sizes_show_in_the_largest_whole_unit() {
        assert_eq!(ByteSize(8 << 20).to_string(), "8 MiB");
        assert_eq!(ByteSize(1536).to_string(), "1536 bytes");
        assert_eq!(ByteSize(2048).to_string(), "2 KiB");
        assert_eq!(ByteSize(1).to_string(), "1 byte");
    }

    #[test]
    fn reading_stops_one_byte_past_the_limit() {
        let endless = std::io::repeat(0);
        assert_eq!(read_bounded(endless, ByteSize(1000)).unwrap(), None);
        let exact = [7u8; 10];
        assert_eq!(
            read_bounded(&exact[..], ByteSize(10)).unwrap(),
            Some(vec![7; 10])
        );
        assert_eq!(read_bounded(&exact[..], ByteSize(9)).unwrap(), None);
        // The reader is left one byte past the limit, not drained.
        let mut rest = &[1u8; 100][..];
        assert_eq!(read_bounded(&mut rest, ByteSize(5)).unwrap(), None);
        let mut left = Vec::new();
        rest.read_to_end(&mut left).unwrap();
        assert_eq!(left.len(), 94);
    }
}

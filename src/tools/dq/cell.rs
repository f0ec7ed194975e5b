//! One cell of a table, as every dq tool sees it, whichever source it came from: what counts
//! as null, and what type a cell holds.

use std::hash::{Hash, Hasher};

use serde_json::Value;

/// An address as the tools accept it: one `@`, no spaces, a dot in the domain. Deliberately
/// simple (RFC 5322 allows far more), as data-quality checks usually are.
pub(super) const EMAIL_PATTERN: &str =
    r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$";

/// A cell, borrowed from a CSV record or a JSON row.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cell<'a> {
    /// An empty or whitespace-only CSV cell, a JSON `null`, a key the row lacks, or a JSON
    /// string that is empty or whitespace-only.
    Null,
    /// Text: every CSV cell, or a JSON string. Numbers and booleans written as text count as
    /// numbers and booleans.
    Text(&'a str),
    /// A JSON number, boolean, list or map.
    Json(&'a Value),
}

/// What a cell holds, once read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Parsed<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a str),
    /// A JSON list or map.
    Nested,
}

impl<'a> Cell<'a> {
    pub(super) fn from_text(text: &'a str) -> Self {
        if trim(text).is_empty() {
            Cell::Null
        } else {
            Cell::Text(text)
        }
    }

    pub(super) fn from_json(value: Option<&'a Value>) -> Self {
        match value {
            None | Some(Value::Null) => Cell::Null,
            Some(Value::String(text)) => Cell::from_text(text),
            Some(other) => Cell::Json(other),
        }
    }

    pub(super) fn is_null(self) -> bool {
        matches!(self, Cell::Null)
    }

    pub(super) fn parse(self) -> Parsed<'a> {
        match self {
            Cell::Null => Parsed::Null,
            Cell::Text(text) => parse_text(text),
            Cell::Json(Value::Bool(flag)) => Parsed::Bool(*flag),
            Cell::Json(Value::Number(number)) => match number.as_i64() {
                Some(int) => Parsed::Int(int),
                None => number.as_f64().map_or(Parsed::Nested, Parsed::Float),
            },
            Cell::Json(_) => Parsed::Nested,
        }
    }

    /// The cell's number, if it holds one.
    pub(super) fn number(self) -> Option<f64> {
        match self.parse() {
            #[allow(clippy::cast_precision_loss)] // beyond 2^53 a statistic is approximate anyway
            Parsed::Int(int) => Some(int as f64),
            Parsed::Float(float) => Some(float),
            _ => None,
        }
    }

    /// The cell as text (a JSON value as JSON), for patterns, categories and top values.
    pub(super) fn text(self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            Cell::Null => None,
            Cell::Text(text) => Some(text.into()),
            Cell::Json(value) => Some(value.to_string().into()),
        }
    }

    /// Feeds the cell into a row's hash: a null, a text and a JSON value hash differently.
    pub(super) fn hash_into(self, hasher: &mut impl Hasher) {
        match self {
            Cell::Null => 0u8.hash(hasher),
            Cell::Text(text) => {
                1u8.hash(hasher);
                text.hash(hasher);
            }
            Cell::Json(value) => {
                2u8.hash(hasher);
                value.to_string().hash(hasher);
            }
        }
    }
}

/// `str::trim`, without its look at each end for Unicode spaces when both ends are visible
/// ASCII characters (as nearly every cell's are).
pub(super) fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Whether `text` matches [`EMAIL_PATTERN`], read by hand: a local part of its characters,
/// one `@`, then dot-separated labels of letters, digits and `-`, at least two, the last of
/// two letters or more. Some ten times faster than the regex on an address, and every text
/// cell of a profiled table is asked; a test holds it to the regex.
pub(super) fn is_email(text: &str) -> bool {
    // One look at each byte, by a table of what each part allows.
    let bytes = text.as_bytes();
    let Some(at) = bytes.iter().position(|&byte| byte == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    let Some(last_dot) = domain.iter().rposition(|&byte| byte == b'.') else {
        return false;
    };
    let (labels, top) = (&domain[..last_dot], &domain[last_dot + 1..]);
    // Labels are separated by single dots: none empty, so no dot first, last or doubled.
    let labels_ok = labels.first().is_some_and(|&byte| byte != b'.')
        && labels.last().is_some_and(|&byte| byte != b'.')
        && !labels.windows(2).any(|pair| pair == b"..");
    !local.is_empty()
        && local
            .iter()
            .all(|&byte| ALLOWED[usize::from(byte)] & LOCAL != 0)
        && labels_ok
        && labels
            .iter()
            .all(|&byte| ALLOWED[usize::from(byte)] & LABEL != 0)
        && top.len() >= 2
        && top.iter().all(u8::is_ascii_alphabetic)
}

/// [`ALLOWED`]'s bits: a byte the local part may hold, and one a domain label (or the dot
/// between two) may.
const LOCAL: u8 = 1;
const LABEL: u8 = 2;

/// What each byte may be part of in an address.
static ALLOWED: [u8; 256] = {
    let mut allowed = [0u8; 256];
    let mut byte: u8 = 0;
    loop {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.') {
            allowed[byte as usize] = LOCAL | LABEL;
        } else if matches!(byte, b'_' | b'%' | b'+') {
            allowed[byte as usize] = LOCAL;
        }
        if byte == u8::MAX {
            break allowed;
        }
        byte += 1;
    }
};

/// Text read as pandas' `read_csv` reads a cell: surrounding spaces ignored, `true`/`false`
/// in any case a boolean, then an integer, then a float (`nan` and `inf` stay text).
fn parse_text(text: &str) -> Parsed<'_> {
    let trimmed = trim(text);
    if trimmed.is_empty() {
        return Parsed::Null;
    }
    if trimmed.eq_ignore_ascii_case("true") {
        return Parsed::Bool(true);
    }
    if trimmed.eq_ignore_ascii_case("false") {
        return Parsed::Bool(false);
    }
    let first = trimmed.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        if let Ok(int) = trimmed.parse::<i64>() {
            return Parsed::Int(int);
        }
        if let Ok(float) = trimmed.parse::<f64>()
            && float.is_finite()
        {
            return Parsed::Float(float);
        }
    }
    Parsed::Text(text)
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use regex::Regex;
    use serde_json::json;

    use super::*;

    /// The pattern as a regex: what [`is_email`] is held to.
    static EMAIL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(EMAIL_PATTERN).expect("the email pattern compiles"));

    #[test]
    fn blank_and_whitespace_only_cells_are_null() {
        assert!(Cell::from_text("").is_null());
        assert!(Cell::from_text("  \t").is_null());
        assert!(Cell::from_json(None).is_null());
        assert!(Cell::from_json(Some(&json!(null))).is_null());
        assert!(Cell::from_json(Some(&json!(" "))).is_null());
        assert!(!Cell::from_text("0").is_null());
    }

    #[test]
    fn text_is_read_as_bool_int_float_or_text() {
        assert_eq!(Cell::from_text(" 42 ").parse(), Parsed::Int(42));
        assert_eq!(Cell::from_text("-1.5").parse(), Parsed::Float(-1.5));
        assert_eq!(Cell::from_text("TRUE").parse(), Parsed::Bool(true));
        assert_eq!(Cell::from_text("nan").parse(), Parsed::Text("nan"));
        assert_eq!(Cell::from_text("12ab").parse(), Parsed::Text("12ab"));
        assert_eq!(
            Cell::from_json(Some(&json!(2.5))).parse(),
            Parsed::Float(2.5)
        );
        assert_eq!(Cell::from_json(Some(&json!([1]))).parse(), Parsed::Nested);
    }

    #[test]
    fn email_pattern_accepts_plain_addresses_only() {
        assert!(is_email("ann.lee+x@mail.example.com"));
        assert!(!is_email("ann.lee@example"));
        assert!(!is_email("ann lee@example.com"));
        assert!(!is_email(" ann@example.com"));
        assert!(!is_email("ann@@example.com"));
        assert!(!is_email("ann.example.com"));
    }

    proptest::proptest! {
        #[test]
        fn is_email_agrees_with_the_pattern(text in "[aZ09._%+@ é-]{0,14}") {
            proptest::prop_assert_eq!(is_email(&text), EMAIL.is_match(&text));
        }
    }

    #[test]
    fn is_email_agrees_with_the_pattern_on_near_addresses() {
        for text in [
            "a@b.co",
            "a@b.c",
            "a@b",
            "@b.co",
            "a@.co",
            "a@b..co",
            "a@b.co.",
            "a@b-.co",
            "a@b.c0",
            "a.b@c.d.ef",
            "a@b@c.de",
            "a b@c.de",
            "a@b.co\n",
            "é@b.co",
            "a@b.cé",
            "%+-._@0-9.Ab",
        ] {
            assert_eq!(is_email(text), EMAIL.is_match(text), "{text:?}");
        }
    }

    #[test]
    fn trim_is_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}a",
            "a\u{2003}",
            "é",
            "ab",
            "a b",
            "\t\n",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }
}

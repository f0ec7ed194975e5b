//! Splits a command line into words the way a POSIX shell does (quote removal only): it takes
//! the `cmd` text and gives the argument vector. It never expands anything: no variables, no
//! globs, no `~`, no command substitution, and `|`, `;`, `&`, `<`, `>` and `#` are ordinary
//! characters.

use std::fmt;

/// Why a command line cannot be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// A `'` with no closing `'`; `at` is the byte offset of the opening quote.
    UnterminatedSingleQuote { at: usize },
    /// A `"` with no closing `"`; `at` is the byte offset of the opening quote.
    UnterminatedDoubleQuote { at: usize },
    /// A `\` as the very last character: there is nothing for it to escape.
    TrailingBackslash,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::UnterminatedSingleQuote { at } => {
                write!(f, "the single quote at byte {at} is never closed")
            }
            SplitError::UnterminatedDoubleQuote { at } => {
                write!(f, "the double quote at byte {at} is never closed")
            }
            SplitError::TrailingBackslash => {
                write!(f, "it ends with a `\\` that escapes nothing")
            }
        }
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Splits `line` into words:
/// - unquoted blanks (space, tab, newline) separate words;
/// - `'…'` keeps everything literally, backslashes included;
/// - `"…"` keeps everything literally except `\"`, `\\`, `\$` and `` \` `` (the backslash is
///   dropped) and a backslash-newline (both are dropped); any other backslash stays;
/// - an unquoted `\` makes the next character literal (a backslash-newline is dropped);
/// - quotes can join parts of one word (`a'b c'"d"` is `ab cd`), and `''` is an empty word.
pub(crate) fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    // `None` between words; `Some` once a word has started, even if it is still empty (`''`).
    let mut word: Option<String> = None;
    let mut chars = line.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if is_blank(c) => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, escaped)) => word.get_or_insert_with(String::new).push(escaped),
                None => return Err(SplitError::TrailingBackslash),
            },
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => word.push(c),
                        None => return Err(SplitError::UnterminatedSingleQuote { at }),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\n')) => {}
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => word.push(c),
                            Some((_, c)) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::UnterminatedDoubleQuote { at }),
                        },
                        Some((_, c)) => word.push(c),
                        None => return Err(SplitError::UnterminatedDoubleQuote { at }),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{SplitError, split};

    fn words(line: &str) -> Vec<String> {
        split(line).expect("the line splits")
    }

    #[test]
    fn blanks_separate_words_and_runs_of_blanks_count_once() {
        assert_eq!(words("  ls\t-l \n /tmp  "), ["ls", "-l", "/tmp"]);
    }

    #[test]
    fn empty_and_blank_lines_have_no_words() {
        assert!(words("").is_empty());
        assert!(words(" \t\n").is_empty());
    }

    #[test]
    fn single_quotes_keep_everything_literally() {
        assert_eq!(
            words(r#"sh -c 'echo "$HOME" \ \n; exit 3'"#),
            ["sh", "-c", r#"echo "$HOME" \ \n; exit 3"#]
        );
    }

    #[test]
    fn double_quotes_honour_only_the_posix_escapes() {
        assert_eq!(words(r#""a \" \\ \$ \` b""#), [r#"a " \ $ ` b"#]);
        assert_eq!(words(r#""\n \x \'""#), [r"\n \x \'"]);
        assert_eq!(words(r#""$HOME *.txt""#), ["$HOME *.txt"]);
    }

    #[test]
    fn a_backslash_outside_quotes_escapes_the_next_character() {
        assert_eq!(words(r#"a\ b c\\d \'e\"f"#), ["a b", r"c\d", r#"'e"f"#]);
    }

    #[test]
    fn backslash_newline_joins_lines() {
        assert_eq!(words("echo a\\\nb \"c\\\nd\""), ["echo", "ab", "cd"]);
    }

    #[test]
    fn quoted_parts_join_into_one_word() {
        assert_eq!(words(r#"a'b c'"d e"f g"#), ["ab cd ef", "g"]);
    }

    #[test]
    fn empty_quotes_make_an_empty_word() {
        assert_eq!(words(r#"printf '' "" x''"#), ["printf", "", "", "x"]);
    }

    #[test]
    fn shell_syntax_is_not_interpreted() {
        assert_eq!(
            words("echo $HOME ~ *.rs a|b c;d e&f #g"),
            ["echo", "$HOME", "~", "*.rs", "a|b", "c;d", "e&f", "#g"]
        );
    }

    #[test]
    fn non_ascii_text_is_kept() {
        assert_eq!(words("echo 'héllo wörld' ✓"), ["echo", "héllo wörld", "✓"]);
    }

    #[test]
    fn unterminated_quotes_are_errors_that_point_at_the_quote() {
        assert_eq!(
            split("echo 'abc"),
            Err(SplitError::UnterminatedSingleQuote { at: 5 })
        );
        assert_eq!(
            split(r#"echo x"abc"#),
            Err(SplitError::UnterminatedDoubleQuote { at: 6 })
        );
        assert_eq!(
            split(r#"echo "abc\"#),
            Err(SplitError::UnterminatedDoubleQuote { at: 5 })
        );
        assert_eq!(
            split("echo 'abc").unwrap_err().to_string(),
            "the single quote at byte 5 is never closed"
        );
    }

    #[test]
    fn a_trailing_backslash_is_an_error() {
        assert_eq!(split(r"echo a\"), Err(SplitError::TrailingBackslash));
    }
}

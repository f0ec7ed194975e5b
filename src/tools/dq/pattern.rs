//! A pattern a value must match (the `patterns` argument, a malformed-value rule): a regex,
//! matched by the hand-written email reader when it is the email pattern, as the rules
//! `dq.generate_rules` makes for malformed emails are. Which one is decided once, when the
//! pattern is compiled, not per cell.

use regex::Regex;

use super::cell::{EMAIL_PATTERN, is_email};

#[derive(Clone, Debug)]
pub(super) struct Pattern {
    regex: Regex,
    email: bool,
}

impl Pattern {
    /// Compiles a pattern the user gave; the error is one line ("unclosed character class"),
    /// without regex's drawing of the pattern, so it fits a diagnostic's message.
    pub(super) fn compile(pattern: &str) -> Result<Self, String> {
        let regex = Regex::new(pattern).map_err(|error| match error {
            regex::Error::Syntax(text) => {
                let last = text.lines().last().unwrap_or_default();
                last.strip_prefix("error: ").unwrap_or(last).to_owned()
            }
            other => other.to_string(),
        })?;
        Ok(Pattern {
            email: pattern == EMAIL_PATTERN,
            regex,
        })
    }

    pub(super) fn is_match(&self, text: &str) -> bool {
        if self.email {
            is_email(text)
        } else {
            self.regex.is_match(text)
        }
    }

    /// The pattern as written.
    pub(super) fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

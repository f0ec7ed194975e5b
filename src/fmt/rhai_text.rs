//! Re-indenting the rhai text of a script without changing what it means: only the
//! whitespace that starts a line moves, and never inside a string that spans lines.

/// `text`'s lines dedented by their common indentation and indented by `indent`, blank
/// lines empty; `None` when a line break sits inside a string or template literal (there
/// the indentation is part of the string), so the text must stay as written.
pub(super) fn reindent(text: &str, indent: &str) -> Option<Vec<String>> {
    if breaks_inside_literal(text) {
        return None;
    }
    let text = text.trim_end();
    // The part on the opening brace's line, if any, has no indentation of its own.
    let (first, rest) = match text.split_once('\n') {
        Some((first, rest)) => (first.trim(), rest),
        None => (text.trim(), ""),
    };
    let common = rest
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| &line[..line.len() - line.trim_start().len()])
        .reduce(common_prefix)
        .unwrap_or("");
    let mut lines = Vec::new();
    if !first.is_empty() {
        lines.push(format!("{indent}{first}"));
    }
    for line in rest.lines() {
        if line.trim().is_empty() {
            lines.push(String::new());
        } else {
            let line = line.strip_prefix(common).unwrap_or(line).trim_end();
            lines.push(format!("{indent}{line}"));
        }
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    Some(lines)
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let len = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at);
    &a[..len]
}

/// Whether a line break falls inside a `"…"` (a backslash continues it), `'…'` or `` `…` ``
/// literal. Conservative: a template's `${…}` counts as inside it.
fn breaks_inside_literal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |at| i + at);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |at| i + at + 4);
            }
            quote @ (b'"' | b'\'' | b'`') => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != quote {
                    let escaped = bytes[j] == b'\\';
                    if bytes[j] == b'\n' || (escaped && bytes.get(j + 1) == Some(&b'\n')) {
                        return true;
                    }
                    j += if escaped { 2 } else { 1 };
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_move_together_to_the_new_indentation() {
        let text = "\n        let x = 1;\n        if x > 0 {\n            y = x;\n        }\n\n        z = 2;\n    ";
        assert_eq!(
            reindent(text, "    ").unwrap(),
            [
                "    let x = 1;",
                "    if x > 0 {",
                "        y = x;",
                "    }",
                "",
                "    z = 2;"
            ]
        );
    }

    #[test]
    fn code_on_the_brace_line_starts_the_block() {
        assert_eq!(
            reindent(" a = 1;\n      b = 2; ", "  ").unwrap(),
            ["  a = 1;", "  b = 2;"]
        );
    }

    #[test]
    fn a_line_break_inside_a_string_keeps_the_text_as_written() {
        assert_eq!(reindent("\n  x = `a\n  b`;\n", "    "), None);
        assert_eq!(reindent("\n  x = \"a\\\n  b\";\n", "    "), None);
        assert!(reindent("\n  x = \"a\"; // `\n  y = 'b';\n", "    ").is_some());
    }
}

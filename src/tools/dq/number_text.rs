//! Whether a number's text is the one Rust writes for it: then a counted number is counted
//! under its own text, without formatting it ([`super::summary::ColumnTally`]).

/// Whether an integer's text is what `i64`'s `Display` writes: no `+`, no leading zeros, no
/// `-0`. Only asked of text that parsed as an `i64`.
pub(super) fn is_written_as_int(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.as_bytes() {
        [b'0'] => digits.len() == text.len(),
        [first, ..] => first.is_ascii_digit() && *first != b'0',
        [] => false,
    }
}

/// Whether a float's text is what `f64`'s `Display` writes (the shortest digits that read
/// back as the same float, never an exponent). Only asked of text that parsed as an `f64`.
/// Plain decimals with at most 15 significant digits qualify when they have no leading or
/// trailing zeros: two such decimals never read as the same float (an `f64` holds 15
/// decimal digits), so the shortest digits for the float are the text's own. The length
/// bound keeps far from the subnormals, whose precision is lower.
pub(super) fn is_written_as_float(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let Some((whole, fraction)) = unsigned.split_once('.') else {
        return false;
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if text.len() > 20 || !all_digits(whole) || !all_digits(fraction) || fraction.ends_with('0') {
        return false;
    }
    let significant = if whole == "0" {
        fraction.trim_start_matches('0').len()
    } else if whole.starts_with('0') {
        return false;
    } else {
        whole.len() + fraction.len()
    };
    significant <= 15
}

#[cfg(test)]
mod tests {
    use super::{is_written_as_float, is_written_as_int};

    #[test]
    fn numbers_written_as_rust_writes_them_are_recognised() {
        for text in [
            "0",
            "7",
            "-12",
            "9223372036854775807",
            "007",
            "-0",
            "+5",
            "10",
        ] {
            let int: i64 = text.parse().unwrap();
            assert_eq!(is_written_as_int(text), int.to_string() == text, "{text}");
        }
        let mut texts: Vec<String> = [
            "0.5",
            "-0.5",
            "0.50",
            "00.5",
            "1.0",
            "-0.0",
            "123456789012.345",
            "1234567890123.456",
            "0.000000000000001",
            "0.1",
            "0.30000000000000004",
            "1e5",
            "5.",
            ".5",
            "+1.5",
            "99999999999999.9",
            "0.000123456789012345",
        ]
        .map(str::to_owned)
        .to_vec();
        // Two-decimal amounts, as a money column holds, and random 15-digit decimals.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for index in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            texts.push(format!("{}.{:02}", seed % 10_000_000, index % 100));
            let digits = format!("{:015}", seed % 1_000_000_000_000_000);
            let point = usize::try_from(index % 15).unwrap() + 1;
            texts.push(format!("{}.{}", &digits[..point], &digits[point..]));
        }
        for text in &texts {
            let float: f64 = text.parse().unwrap();
            if is_written_as_float(text) {
                assert_eq!(float.to_string(), *text);
            }
        }
        assert!(is_written_as_float("75019.75") && is_written_as_float("-0.5"));
        assert!(!is_written_as_float("0.50") && !is_written_as_float("1e5"));
    }
}

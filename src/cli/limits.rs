//! `--limit NAME=VALUE`: one sandbox limit of [`Limits`] set from the command line.

use crate::compile::suggest::closest;
use crate::sandbox::Limits;

/// One `--limit NAME=VALUE`, its name checked against [`Limits::names`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LimitSetting {
    name: String,
    value: u64,
}

impl LimitSetting {
    pub(super) fn apply(&self, limits: &mut Limits) {
        let set = limits.set(&self.name, self.value);
        assert!(
            set.is_ok(),
            "parse_limit accepts only settings `Limits::set` takes"
        );
    }
}

pub(super) fn parse_limit(text: &str) -> Result<LimitSetting, String> {
    let known = Limits::names();
    let names = || {
        known
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "write NAME=VALUE, e.g. `max_operations=5000000`; the limits are {}",
            names()
        ));
    };
    if !known.iter().any(|known| known == name) {
        let hint = closest(name, known.iter().map(String::as_str))
            .map(|near| format!("did you mean `{near}`? "))
            .unwrap_or_default();
        return Err(format!(
            "unknown limit `{name}`; {hint}the limits are {}",
            names()
        ));
    }
    let value = value
        .parse()
        .map_err(|_| format!("`{name}` takes a whole number (0 or more), not `{value}`"))?;
    Limits::default()
        .set(name, value)
        .map_err(|error| error.to_string())?;
    Ok(LimitSetting {
        name: name.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::{LimitSetting, parse_limit};
    use crate::sandbox::Limits;

    #[test]
    fn a_limit_is_name_equals_value() {
        assert_eq!(
            parse_limit("max_operations=5000000"),
            Ok(LimitSetting {
                name: "max_operations".to_owned(),
                value: 5_000_000
            })
        );
        let mut limits = Limits::default();
        for text in ["max_array_size=7", "max_wall_time_ms=0", "max_expr_depth=3"] {
            parse_limit(text).unwrap().apply(&mut limits);
        }
        assert_eq!(
            limits,
            Limits {
                max_array_size: 7,
                max_wall_time_ms: 0,
                max_expr_depth: 3,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn every_limit_name_sets_its_field() {
        let fields: Vec<String> = serde_json::to_value(Limits::default())
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // The names `flowc run --help` lists.
        let listed = [
            "max_operations",
            "max_call_levels",
            "max_expr_depth",
            "max_function_expr_depth",
            "max_string_size",
            "max_array_size",
            "max_map_size",
            "max_total_size",
            "max_total_string_size",
            "max_wall_time_ms",
        ];
        assert_eq!(fields, listed, "`--limit` must name every field");
        assert_eq!(Limits::names(), listed);
        for name in listed {
            let mut limits = Limits::default();
            parse_limit(&format!("{name}=200"))
                .unwrap()
                .apply(&mut limits);
            assert_ne!(limits, Limits::default(), "{name}");
            let json = serde_json::to_value(&limits).unwrap();
            assert_eq!(json[name], 200, "{name}");
        }
    }

    #[test]
    fn a_bad_limit_says_what_to_write() {
        assert_eq!(
            parse_limit("max_operatons=5").unwrap_err(),
            "unknown limit `max_operatons`; did you mean `max_operations`? the limits are \
             `max_operations`, `max_call_levels`, `max_expr_depth`, `max_function_expr_depth`, \
             `max_string_size`, `max_array_size`, `max_map_size`, `max_total_size`, \
             `max_total_string_size`, `max_wall_time_ms`"
        );
        assert!(
            parse_limit("speed=5")
                .unwrap_err()
                .starts_with("unknown limit `speed`; the limits are")
        );
        assert!(
            parse_limit("max_operations")
                .unwrap_err()
                .starts_with("write NAME=VALUE")
        );
        assert_eq!(
            parse_limit("max_operations=-1").unwrap_err(),
            "`max_operations` takes a whole number (0 or more), not `-1`"
        );
        assert!(parse_limit("max_operations=").is_err());
    }
}

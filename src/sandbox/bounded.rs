//! Values bounded as they are built. rhai checks sizes after an operation, and not at all for
//! a map or list growing by `m[key] = v`; its text conversions (`to_string`, `to_debug`,
//! `print`, `debug`, `to_json`, and template strings, which call `to_string`) build the whole
//! text first. Here the conversions write into a buffer that stops at the limit, and every
//! variable is size-checked when it is read, so a value growing in a loop is stopped there.

use std::fmt::Write as _;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};

use super::Limits;

/// A sandbox limit a value reached while being built: raised as rhai's runtime error value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizeLimit {
    /// The limit's setting name (`max_string_size`, …).
    pub(crate) limit: &'static str,
}

/// The limit `error` reports, when it is a [`SizeLimit`].
pub(crate) fn size_limit(error: &EvalAltResult) -> Option<SizeLimit> {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<SizeLimit>(),
        _ => None,
    }
}

fn exceeded(limit: &'static str) -> EvalAltResult {
    EvalAltResult::ErrorRuntime(Dynamic::from(SizeLimit { limit }), Position::NONE)
}

/// Text that stops growing one byte past `max`: formatting then fails, and the caller knows
/// the whole text would not fit.
struct Capped {
    text: String,
    max: usize,
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, part: &str) -> std::fmt::Result {
        if self.text.len() + part.len() > self.max {
            return Err(std::fmt::Error);
        }
        self.text.push_str(part);
        Ok(())
    }
}

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let part = std::str::from_utf8(bytes).map_err(std::io::Error::other)?;
        std::fmt::Write::write_str(self, part)
            .map_err(|_| std::io::Error::other("max_string_size"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Formats `value` (`debug`: rhai's debug form) within `max` bytes.
fn format(value: &Dynamic, debug: bool, max: usize) -> Result<ImmutableString, Box<EvalAltResult>> {
    let mut out = Capped {
        text: String::new(),
        max,
    };
    let written = if debug {
        write!(out, "{value:?}")
    } else if value.is_unit() {
        Ok(())
    } else {
        write!(out, "{value}")
    };
    written.map_err(|_| exceeded("max_string_size"))?;
    Ok(out.text.into())
}

fn json(value: &Dynamic, max: usize) -> Result<String, Box<EvalAltResult>> {
    let mut out = Capped {
        text: String::new(),
        max,
    };
    serde_json::to_writer(&mut out, value).map_err(|error| {
        Box::new(if error.is_io() {
            exceeded("max_string_size")
        } else {
            EvalAltResult::ErrorRuntime(error.to_string().into(), Position::NONE)
        })
    })?;
    Ok(out.text)
}

/// The limit a value breaks on its own (not counting what it holds), if any: the check made
/// each time a variable is read.
pub(crate) fn oversized(value: &Dynamic, limits: &Limits) -> Option<&'static str> {
    let over = |len: usize, max: usize| max > 0 && len > max;
    if let Ok(text) = value.as_immutable_string_ref() {
        return over(text.len(), limits.max_string_size).then_some("max_string_size");
    }
    if let Ok(array) = value.as_array_ref() {
        return over(array.len(), limits.max_array_size).then_some("max_array_size");
    }
    if let Ok(map) = value.as_map_ref() {
        return over(map.len(), limits.max_map_size).then_some("max_map_size");
    }
    None
}

/// Runs `f` on a list as a `Dynamic` without copying it: moved in, and back after.
fn lent_array<T>(value: &mut Array, f: impl FnOnce(&Dynamic) -> T) -> T {
    let lent = Dynamic::from_array(std::mem::take(value));
    let result = f(&lent);
    *value = lent.cast::<Array>();
    result
}

/// [`lent_array`] for a map.
fn lent_map<T>(value: &mut Map, f: impl FnOnce(&Dynamic) -> T) -> T {
    let lent = Dynamic::from_map(std::mem::take(value));
    let result = f(&lent);
    *value = lent.cast::<Map>();
    result
}

/// Registers the bounded conversions and the size check on every variable read.
pub(crate) fn register(engine: &mut Engine, limits: &Limits) {
    let max = if limits.max_string_size == 0 {
        usize::MAX
    } else {
        limits.max_string_size
    };
    for name in ["to_string", "print"] {
        engine.register_fn(name, move |value: &mut Dynamic| format(value, false, max));
        engine.register_fn(name, move |value: &mut Array| {
            lent_array(value, |value| format(value, false, max))
        });
        engine.register_fn(name, move |value: &mut Map| {
            lent_map(value, |value| format(value, false, max))
        });
    }
    for name in ["to_debug", "debug"] {
        engine.register_fn(name, move |value: &mut Dynamic| format(value, true, max));
        engine.register_fn(name, move |value: &mut Array| {
            lent_array(value, |value| format(value, true, max))
        });
        engine.register_fn(name, move |value: &mut Map| {
            lent_map(value, |value| format(value, true, max))
        });
    }
    engine.register_fn("to_json", move |value: &mut Map| {
        lent_map(value, |value| json(value, max))
    });
    let limits = limits.clone();
    #[allow(deprecated, reason = "rhai marks `on_var` volatile, not deprecated")]
    engine.on_var(move |name, _, context| {
        if let Some(value) = context.scope().get(name)
            && let Some(limit) = oversized(value, &limits)
        {
            return Err(exceeded(limit).into());
        }
        Ok(None)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stops_growing_at_the_limit() {
        let list: Array = (0..10_000).map(Dynamic::from_int).collect();
        let value = Dynamic::from_array(list);
        let mut out = Capped {
            text: String::new(),
            max: 100,
        };
        assert!(write!(out, "{value}").is_err());
        assert!(out.text.len() <= 100, "{} bytes held", out.text.len());
        let error = format(&value, false, 100).unwrap_err();
        assert_eq!(
            size_limit(&error),
            Some(SizeLimit {
                limit: "max_string_size"
            })
        );
        let error = json(&value, 100).unwrap_err();
        assert!(size_limit(&error).is_some());
        assert_eq!(format(&Dynamic::from_int(7), false, 100).unwrap(), "7");
    }
}

//! The sandbox's resource limits: what one evaluation of a guard or script may use, their
//! defaults, their ceilings and how a setting names them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Resource limits for one evaluation of a guard or script. Every one is finite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// rhai operations per evaluation: bounds loops and recursion in time.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting, at top level and inside functions.
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one list.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
    /// One value with everything it holds, nested: at most this many list elements, and at
    /// most this many map entries (rhai counts the two apart).
    pub max_total_size: usize,
    /// Bytes of all the strings in one value, nested.
    pub max_total_string_size: usize,
    /// Wall-clock milliseconds one script or guard may run (enforced by the engine's
    /// progress hook at run time).
    pub max_wall_time_ms: u64,
}

/// The stack of an evaluation whose depth limits are raised ([`Limits::needs_large_stack`]):
/// enough for every limit at its ceiling, nested calls each nesting expressions as deep as
/// allowed, in an unoptimized build. Only the pages touched are ever committed.
pub const EVALUATION_STACK: usize = 512 * 1024 * 1024;

/// Why [`Limits::set`] refused a setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// No limit has that name.
    Unknown,
    /// A depth limit asked for more than the stack can hold (or for none, `0`).
    AboveCeiling { name: &'static str, ceiling: usize },
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitError::Unknown => write!(f, "no sandbox limit has that name"),
            LimitError::AboveCeiling { name, ceiling } => write!(
                f,
                "`{name}` can be raised to {ceiling} at most (deeper would overflow the stack)"
            ),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 10_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 1024 * 1024,
            max_array_size: 1_000_000,
            max_map_size: 100_000,
            max_total_size: 2_000_000,
            max_total_string_size: 64 * 1024 * 1024,
            max_wall_time_ms: 10_000,
        }
    }
}

impl Limits {
    /// The limits' names (their field names), as settings such as `flowc run --limit` spell
    /// them.
    pub fn names() -> Vec<String> {
        Limits::default()
            .fields()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// How far each depth limit may be raised: deeper recursion or nesting would overflow
    /// the evaluation's stack (a crash, not an error), so a larger value (or `0`, which
    /// rhai reads as "no limit") is refused. See [`Limits::needs_large_stack`].
    pub const CEILINGS: [(&'static str, usize); 3] = [
        ("max_call_levels", 256),
        ("max_expr_depth", 512),
        ("max_function_expr_depth", 256),
    ];

    /// Sets the limit called `name` to `value`. A value beyond what the platform counts
    /// (`usize`) is as good as no limit; a depth limit above its ceiling is refused.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), LimitError> {
        let mut fields = self.fields();
        let Some(field) = fields.get_mut(name) else {
            return Err(LimitError::Unknown);
        };
        if let Some(&(name, ceiling)) = Self::CEILINGS.iter().find(|(n, _)| *n == name)
            && (value == 0 || value > ceiling as u64)
        {
            return Err(LimitError::AboveCeiling { name, ceiling });
        }
        *field = value
            .min(u64::try_from(usize::MAX).unwrap_or(u64::MAX))
            .into();
        *self = serde_json::from_value(Value::Object(fields))
            .expect("every limit is a whole number up to usize::MAX");
        Ok(())
    }

    /// The depth limits held to their ceilings, for limits set field by field (an embedder's
    /// `RunOptions::limits`) rather than through [`Limits::set`].
    pub(super) fn ceiled(name: &str, value: usize) -> usize {
        let ceiling = Self::CEILINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(usize::MAX, |&(_, ceiling)| ceiling);
        if value == 0 {
            ceiling
        } else {
            value.min(ceiling)
        }
    }

    /// Whether the depth limits are raised past the defaults, so deep that an evaluation needs
    /// more stack than a thread's usual 2 MiB: such evaluations run on a thread of their own
    /// with [`EVALUATION_STACK`] bytes of stack.
    pub fn needs_large_stack(&self) -> bool {
        let defaults = Limits::default();
        let calls = Self::ceiled("max_call_levels", self.max_call_levels);
        let expr = Self::ceiled("max_expr_depth", self.max_expr_depth);
        let function = Self::ceiled("max_function_expr_depth", self.max_function_expr_depth);
        calls > defaults.max_call_levels
            || expr > defaults.max_expr_depth
            || function > defaults.max_function_expr_depth
    }

    fn fields(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => unreachable!("a struct of numbers serializes as an object"),
        }
    }
}

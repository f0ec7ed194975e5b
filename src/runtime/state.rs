//! The run's state: values kept as rhai `Dynamic`s in numbered slots, converted from JSON
//! once at the start and back once at the end. Every name the flow's code mentions gets its
//! slot before the run, so a step touches only the slots its code names — never the whole
//! state. Also: validating the initial state against the schema and filling defaults.

use std::collections::HashMap;

use rhai::{Dynamic, Identifier};
use serde_json::{Map, Value};

use crate::compile::ir::{Schema, SchemaField};
use crate::runtime::error::RuntimeError;
use crate::syntax::ast::FieldType;

/// Names with fixed slots: schema fields and every name the code reads or writes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slots {
    names: Vec<Identifier>,
    index: HashMap<String, usize>,
}

impl Slots {
    pub(crate) fn intern(&mut self, name: &str) -> usize {
        if let Some(&slot) = self.index.get(name) {
            return slot;
        }
        let slot = self.names.len();
        self.names.push(name.into());
        self.index.insert(name.to_owned(), slot);
        slot
    }
}

/// The state of one run.
#[derive(Debug)]
pub(crate) struct State {
    slots: Slots,
    values: Vec<Option<Dynamic>>,
    /// Slots holding a value, in the order they first got one (the output order).
    order: Vec<usize>,
}

impl State {
    fn empty(slots: &Slots) -> Self {
        State {
            slots: slots.clone(),
            values: vec![None; slots.names.len()],
            order: Vec::new(),
        }
    }

    /// Validates `input` against `schema` (types, required fields), fills defaults and keeps
    /// extra fields. Schema fields come first in the output, then the others as given.
    pub(crate) fn from_input(
        slots: &Slots,
        schema: Option<&Schema>,
        mut input: Map<String, Value>,
    ) -> Result<Self, RuntimeError> {
        let mut state = State::empty(slots);
        for field in schema.map_or(&[][..], |s| s.fields.as_slice()) {
            let value = match input.remove(&field.name) {
                Some(value) => {
                    check_type(field, &value)?;
                    value
                }
                None => match &field.default {
                    Some(default) => default.clone(),
                    None if field.nullable => Value::Null,
                    None => {
                        return Err(RuntimeError::MissingField {
                            field: field.name.clone(),
                            at: field.span.into(),
                        });
                    }
                },
            };
            let slot = state.slot(&field.name);
            state.set(slot, field_value(field.ty, &value));
        }
        for (name, value) in input {
            let slot = state.slot(&name);
            state.set(slot, to_dynamic(&value));
        }
        Ok(state)
    }

    /// The slot of `name`, adding one for a name first seen at run time.
    pub(crate) fn slot(&mut self, name: &str) -> usize {
        let slot = self.slots.intern(name);
        if slot == self.values.len() {
            self.values.push(None);
        }
        slot
    }

    pub(crate) fn name(&self, slot: usize) -> &str {
        &self.slots.names[slot]
    }

    pub(crate) fn identifier(&self, slot: usize) -> &Identifier {
        &self.slots.names[slot]
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Dynamic> {
        self.values[slot].as_ref()
    }

    /// Sets a value, recording the slot's place in the output order when it is new.
    pub(crate) fn set(&mut self, slot: usize, value: Dynamic) {
        let entry = &mut self.values[slot];
        if entry.is_none() && !self.order.contains(&slot) {
            self.order.push(slot);
        }
        *entry = Some(value);
    }

    /// Lends a value out (to a guard's scope) without copying it; [`State::restore`] puts it
    /// back. The slot's place in the order is kept.
    pub(crate) fn lend(&mut self, slot: usize) -> Option<Dynamic> {
        self.values[slot].take()
    }

    pub(crate) fn restore(&mut self, slot: usize, value: Dynamic) {
        self.values[slot] = Some(value);
    }

    /// Present slots in output order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Dynamic)> {
        self.order
            .iter()
            .filter_map(|&slot| Some((self.name(slot), self.values[slot].as_ref()?)))
    }

    pub(crate) fn to_json(&self) -> Map<String, Value> {
        self.iter()
            .map(|(name, value)| (name.to_owned(), to_json(value)))
            .collect()
    }
}

/// A field's value from JSON: a `float` field given a whole number holds a float.
fn field_value(ty: FieldType, value: &Value) -> Dynamic {
    match (ty, value) {
        #[allow(clippy::cast_precision_loss)]
        (FieldType::Float, Value::Number(n)) if !n.is_f64() => {
            Dynamic::from_float(n.as_f64().unwrap_or_default())
        }
        _ => to_dynamic(value),
    }
}

pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

pub(crate) fn to_json(value: &Dynamic) -> Value {
    serde_json::to_value(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

fn check_type(field: &SchemaField, value: &Value) -> Result<(), RuntimeError> {
    let ok = match (field.ty, value) {
        (_, Value::Null) if field.ty != FieldType::Any => field.nullable,
        (FieldType::Int, Value::Number(n)) => n.is_i64(),
        (FieldType::Any, _)
        | (FieldType::Float, Value::Number(_))
        | (FieldType::Bool, Value::Bool(_))
        | (FieldType::String, Value::String(_))
        | (FieldType::List, Value::Array(_))
        | (FieldType::Map, Value::Object(_)) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = if field.nullable {
        format!("{} or null", field.ty.keyword())
    } else {
        field.ty.keyword().to_owned()
    };
    Err(RuntimeError::InvalidState {
        field: field.name.clone(),
        expected,
        given: json_type_name(value),
        at: field.span.into(),
    })
}

/// The type of a JSON value in the schema's words, with its value when short.
fn json_type_name(value: &Value) -> String {
    let ty = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int",
        Value::Number(n) if n.is_u64() => "int (too large for a 64-bit int)",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => return "list".to_owned(),
        Value::Object(_) => return "map".to_owned(),
    };
    let text = value.to_string();
    if text.len() <= 40 {
        format!("{ty} `{text}`")
    } else {
        ty.to_owned()
    }
}

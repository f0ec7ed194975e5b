//! The run's state: values kept as rhai `Dynamic`s in numbered slots, converted from JSON
//! once at the start and back once at the end. Every name the flow's code mentions gets its
//! slot before the run, so a step touches only the slots its code names — never the whole
//! state. Also: validating the initial state against the schema and filling defaults, and
//! checking each value a step writes against its field's declared type.

use std::collections::HashMap;

use rhai::{Dynamic, Identifier};
use serde_json::{Map, Value};

use crate::compile::ir::{Schema, SchemaField};
use crate::runtime::error::RuntimeError;
use crate::span::Span;
use crate::value::{FieldType, Kind, describe_dynamic, describe_json};

/// Names with fixed slots: schema fields and every name the code reads or writes. A slot's
/// name is its JSON key; its identifier is what the code calls it in rhai's scope (the key,
/// unless rhai cannot read the key as written: see `sandbox::identifier`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Slots {
    names: Vec<Identifier>,
    /// Of the slots the code names, which come first ([`Slots::intern_code`]): only those
    /// enter a scope, and a key first seen at run time costs no look-up.
    identifiers: Vec<Identifier>,
    index: HashMap<String, usize>,
    /// Per slot, the type its writes must have, for declared fields.
    declared: Vec<Option<Declared>>,
}

/// A declared field's type, for the check of what a step writes to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Declared {
    pub(crate) ty: FieldType,
    pub(crate) nullable: bool,
    /// The declaration; `None` for `error`, which the engine declares.
    pub(crate) at: Option<Span>,
}

/// A value a step was about to write that does not fit its field's declared type.
#[derive(Clone, Debug)]
pub(crate) struct BadWrite {
    pub(crate) slot: usize,
    pub(crate) field: String,
    pub(crate) declared_ty: FieldType,
    /// `string`, or `string or null`.
    pub(crate) expected: String,
    /// The value's type, and the value when short.
    pub(crate) given: String,
    pub(crate) kind: Kind,
    pub(crate) declared: Option<Span>,
}

impl Slots {
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn intern(&mut self, name: &str) -> usize {
        if let Some(&slot) = self.index.get(name) {
            return slot;
        }
        let slot = self.names.len();
        self.names.push(name.into());
        self.index.insert(name.to_owned(), slot);
        self.declared.push(None);
        slot
    }

    /// Gives `name` a declared type: every write to it is checked.
    pub(crate) fn declare(&mut self, name: &str, declared: Declared) {
        let slot = self.intern(name);
        self.declared[slot] = Some(declared);
    }

    /// The slot of a name some guard or script uses, with its identifier. These are interned
    /// before any other.
    pub(crate) fn intern_code(&mut self, name: &str) -> usize {
        let slot = self.intern(name);
        if slot == self.identifiers.len() {
            self.identifiers
                .push(crate::sandbox::identifier(name).as_ref().into());
        }
        debug_assert!(
            slot < self.identifiers.len(),
            "code names are interned first"
        );
        slot
    }
}

/// One field's value: a rhai value when the flow's code names the field (converted once, at
/// the start or when a tool sets it), else the JSON as given: a field no guard or script
/// reads is never converted at all.
#[derive(Clone, Debug)]
pub(crate) enum Stored {
    Rhai(Dynamic),
    Json(Value),
}

impl Stored {
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Stored::Rhai(value) => to_json(value),
            Stored::Json(value) => value.clone(),
        }
    }

    fn into_json(self) -> Value {
        match self {
            Stored::Rhai(value) => to_json(&value),
            Stored::Json(value) => value,
        }
    }
}

impl serde::Serialize for Stored {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Stored::Rhai(value) => value.serialize(serializer),
            Stored::Json(value) => value.serialize(serializer),
        }
    }
}

/// The state of one run.
#[derive(Debug)]
pub(crate) struct State {
    slots: Slots,
    /// Slots some guard or script names: always held as rhai values.
    named: usize,
    values: Vec<Option<Stored>>,
    /// Slots holding a value, in the order they first got one (the output order).
    order: Vec<usize>,
    /// The state as JSON for tools, kept up to date by the slots set since the last call.
    mirror: Option<Map<String, Value>>,
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
}

impl State {
    fn empty(slots: &Slots, named: usize) -> Self {
        State {
            slots: slots.clone(),
            named,
            values: vec![None; slots.names.len()],
            order: Vec::new(),
            mirror: None,
            dirty: Vec::new(),
            is_dirty: vec![false; slots.names.len()],
        }
    }

    /// Validates `input` against `schema` (types, required fields), fills defaults and keeps
    /// extra fields. Schema fields come first in the output, then the others as given.
    /// `slots` holds the names the code uses first: the first `named` slots.
    pub(crate) fn from_input(
        slots: &Slots,
        named: usize,
        schema: Option<&Schema>,
        mut input: Map<String, Value>,
    ) -> Result<Self, RuntimeError> {
        let mut state = State::empty(slots, named);
        let mut problems = Vec::new();
        for field in schema.map_or(&[][..], |s| s.fields.as_slice()) {
            let value = match input.remove(&field.name) {
                Some(value) => match check_type(field, &value) {
                    Ok(()) => value,
                    Err(problem) => {
                        problems.push(problem);
                        continue;
                    }
                },
                None => match &field.default {
                    Some(default) => default.clone(),
                    None if field.nullable => Value::Null,
                    None => {
                        problems.push(RuntimeError::MissingField {
                            field: field.name.clone(),
                            at: field.span.into(),
                            also: Vec::new(),
                        });
                        continue;
                    }
                },
            };
            let slot = state.slot(&field.name);
            state.set_json(slot, field_value(field.ty, value));
        }
        if !problems.is_empty() {
            // The first is the error; the others ride along, so one run reports them all.
            let mut first = problems.remove(0);
            if let RuntimeError::InvalidState { also, .. }
            | RuntimeError::MissingField { also, .. } = &mut first
            {
                *also = problems;
            }
            return Err(first);
        }
        for (name, value) in input {
            let slot = state.slot(&name);
            state.set_json(slot, value);
        }
        Ok(state)
    }

    /// The slot of `name`, adding one for a name first seen at run time.
    pub(crate) fn slot(&mut self, name: &str) -> usize {
        let slot = self.slots.intern(name);
        if slot == self.values.len() {
            self.values.push(None);
            self.is_dirty.push(false);
        }
        slot
    }

    pub(crate) fn name(&self, slot: usize) -> &str {
        &self.slots.names[slot]
    }

    /// Checks a value a step is about to write to `slot` against the field's declared type
    /// (a name first seen at run time is not declared): only the kind of the value, so the
    /// cost does not depend on its size.
    pub(crate) fn check_write(&self, slot: usize, value: &Dynamic) -> Result<(), Box<BadWrite>> {
        self.check_kind(slot, Kind::of_dynamic(value), || describe_dynamic(value))
    }

    /// As [`State::check_write`], by name (a script's returned map).
    pub(crate) fn check_write_named(
        &self,
        name: &str,
        value: &Dynamic,
    ) -> Result<(), Box<BadWrite>> {
        match self.slots.index.get(name) {
            Some(&slot) => self.check_write(slot, value),
            None => Ok(()),
        }
    }

    /// As [`State::check_write`], for a value from JSON (a tool's changes).
    pub(crate) fn check_write_json(&self, name: &str, value: &Value) -> Result<(), Box<BadWrite>> {
        match self.slots.index.get(name) {
            Some(&slot) => self.check_kind(slot, Kind::of_json(value), || describe_json(value)),
            None => Ok(()),
        }
    }

    fn check_kind(
        &self,
        slot: usize,
        kind: Kind,
        given: impl FnOnce() -> String,
    ) -> Result<(), Box<BadWrite>> {
        let Some(Some(declared)) = self.slots.declared.get(slot) else {
            return Ok(());
        };
        if declared.ty.accepts(declared.nullable, kind) {
            return Ok(());
        }
        Err(Box::new(BadWrite {
            slot,
            field: self.name(slot).to_owned(),
            declared_ty: declared.ty,
            expected: declared.ty.expected(declared.nullable),
            given: given(),
            kind,
            declared: declared.at,
        }))
    }

    pub(crate) fn identifier(&self, slot: usize) -> &Identifier {
        &self.slots.identifiers[slot]
    }

    /// The value of a slot the code names (held as a rhai value).
    pub(crate) fn get(&self, slot: usize) -> Option<&Dynamic> {
        match self.values[slot].as_ref()? {
            Stored::Rhai(value) => Some(value),
            Stored::Json(_) => None,
        }
    }

    /// The value of `name` as JSON, when it has one.
    pub(crate) fn get_json(&self, name: &str) -> Option<Value> {
        let &slot = self.slots.index.get(name)?;
        Some(self.values.get(slot)?.as_ref()?.to_json())
    }

    pub(crate) fn stored(&self, slot: usize) -> Option<&Stored> {
        self.values[slot].as_ref()
    }

    /// Sets a value, recording the slot's place in the output order when it is new.
    pub(crate) fn set(&mut self, slot: usize, value: Dynamic) {
        self.store(slot, Stored::Rhai(value));
    }

    /// Sets a value from JSON: converted only when code names the slot.
    pub(crate) fn set_json(&mut self, slot: usize, value: Value) {
        let stored = if slot < self.named {
            Stored::Rhai(to_dynamic(&value))
        } else {
            Stored::Json(value)
        };
        self.store(slot, stored);
    }

    fn store(&mut self, slot: usize, value: Stored) {
        let entry = &mut self.values[slot];
        // `None` only for a slot that never had a value: lent values are restored directly.
        if entry.is_none() {
            self.order.push(slot);
        }
        *entry = Some(value);
        if self.mirror.is_some() && !self.is_dirty[slot] {
            self.is_dirty[slot] = true;
            self.dirty.push(slot);
        }
    }

    /// Lends a value out (to a guard's scope) without copying it; [`State::restore`] puts it
    /// back. The slot's place in the order is kept.
    pub(crate) fn lend(&mut self, slot: usize) -> Option<Dynamic> {
        match self.values[slot].take()? {
            Stored::Rhai(value) => Some(value),
            json @ Stored::Json(_) => {
                self.values[slot] = Some(json);
                None
            }
        }
    }

    pub(crate) fn restore(&mut self, slot: usize, value: Dynamic) {
        self.values[slot] = Some(Stored::Rhai(value));
    }

    /// Present slots in output order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Stored)> {
        self.order
            .iter()
            .filter_map(|&slot| Some((self.name(slot), self.values[slot].as_ref()?)))
    }

    pub(crate) fn to_json(&self) -> Map<String, Value> {
        self.iter()
            .map(|(name, value)| (name.to_owned(), value.to_json()))
            .collect()
    }

    /// The final state: JSON fields are moved out, not copied.
    pub(crate) fn into_json(mut self) -> Map<String, Value> {
        let mut out = Map::new();
        for &slot in &self.order {
            if let Some(value) = self.values[slot].take() {
                out.insert(self.slots.names[slot].to_string(), value.into_json());
            }
        }
        out
    }

    /// The state as JSON for a tool. Built on the first call, then updated by the slots set
    /// since: a tool call costs the size of what changed, not of the whole state.
    pub(crate) fn json_view(&mut self) -> &Map<String, Value> {
        if self.mirror.is_none() {
            let mirror = self.to_json();
            return self.mirror.insert(mirror);
        }
        let mirror = self.mirror.as_mut().expect("built above");
        for slot in self.dirty.drain(..) {
            self.is_dirty[slot] = false;
            if let Some(value) = &self.values[slot] {
                mirror.insert(self.slots.names[slot].to_string(), value.to_json());
            }
        }
        mirror
    }
}

/// A field's value from JSON: a `float` field given a whole number holds a float.
fn field_value(ty: FieldType, value: Value) -> Value {
    match (ty, &value) {
        (FieldType::Float, Value::Number(n)) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(value, Value::Number),
        _ => value,
    }
}

/// A JSON value as a rhai value: an int that fits 64 signed bits stays an int, every other
/// number becomes the nearest float. Not through serde: JSON numbers keep their text
/// (`serde_json`'s `arbitrary_precision`, so that numbers no code reads pass through
/// untouched), which serde hands over as a map.
pub(crate) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(int) => Dynamic::from_int(int),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Dynamic::from(text.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(key, value)| (key.into(), to_dynamic(value)))
                .collect(),
        ),
    }
}

pub(crate) fn to_json(value: &Dynamic) -> Value {
    serde_json::to_value(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

fn check_type(field: &SchemaField, value: &Value) -> Result<(), RuntimeError> {
    if field.ty.accepts(field.nullable, Kind::of_json(value)) {
        return Ok(());
    }
    Err(RuntimeError::InvalidState {
        field: field.name.clone(),
        expected: field.ty.expected(field.nullable),
        given: describe_json(value),
        at: field.span.into(),
        also: Vec::new(),
    })
}

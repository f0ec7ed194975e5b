//! Reading requests: a whole body within its limit, JSON of an expected shape, a run id in
//! a path, query parameters; every failure is an [`ApiError`] (a 4xx with a JSON body),
//! never axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::store::RunId;
use crate::value::Kind;

use super::error::ApiError;

/// The body, or why it could not be read (too large among them).
pub(crate) fn body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    let body = body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) if rejection.status().as_u16() == 413 => {
            ApiError::TooLarge { limit }
        }
        rejection => ApiError::BadBody {
            reason: rejection.body_text(),
        },
    })?;
    if body.len() > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(body)
}

/// The body as `T`; an empty body reads as JSON `null` (so optional bodies can be absent).
pub(crate) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|error| ApiError::BadJson {
        reason: error.to_string(),
    })
}

/// A state (or input) given as JSON: an object, within `limit` bytes of JSON text.
pub(crate) fn state(
    value: Option<Value>,
    field: &'static str,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => {
            let size = serde_json::to_vec(&map).map_or(usize::MAX, |text| text.len());
            if size > limit {
                return Err(ApiError::TooLarge { limit });
            }
            Ok(map)
        }
        Some(other) => Err(ApiError::BadField {
            field,
            expected: "a JSON object",
            found: Kind::of_json(&other).json_name(),
        }),
    }
}

pub(crate) fn run_id(text: &str) -> Result<RunId, ApiError> {
    text.parse::<RunId>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRunId {
            id: text.to_owned(),
        })
}

pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(query)| query)
        .map_err(|rejection| ApiError::BadQuery {
            reason: rejection.body_text(),
        })
}

/// A path parameter (a path that is not UTF-8 is refused here, as JSON).
pub(crate) fn path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|rejection| ApiError::BadQuery {
            reason: rejection.body_text(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn run_ids_are_positive_integers() {
        assert_eq!(run_id("42").unwrap(), 42);
        for bad in ["0", "-1", "x", "", "99999999999999999999"] {
            assert!(
                matches!(run_id(bad), Err(ApiError::BadRunId { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_state_is_an_object_within_its_limit() {
        assert!(state(None, "s", 10).unwrap().is_empty());
        assert!(state(Some(json!(null)), "s", 10).unwrap().is_empty());
        assert_eq!(state(Some(json!({ "a": 1 })), "s", 10).unwrap()["a"], 1);
        assert!(matches!(
            state(Some(json!({ "a": "long text" })), "s", 10),
            Err(ApiError::TooLarge { limit: 10 })
        ));
        assert!(matches!(
            state(Some(json!([1])), "s", 10),
            Err(ApiError::BadField {
                field: "s",
                found: "an array",
                ..
            })
        ));
    }

    #[test]
    fn an_empty_body_reads_as_null() {
        assert_eq!(json::<Option<u8>>(b"  ").unwrap(), None);
        assert!(matches!(json::<u8>(b"{"), Err(ApiError::BadJson { .. })));
    }
}

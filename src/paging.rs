//! Paging shared by every list: `limit` checks and opaque keyset cursors.
//!
//! A cursor is base64url (no padding) of a small JSON object holding the sort key of the
//! last item returned. Clients treat it as opaque; one that does not decode is 400.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// Default page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;

/// `limit` must be 1..=max; absent means [`DEFAULT_LIMIT`] (or max when smaller).
pub fn check_limit(limit: Option<i64>, max: usize) -> AppResult<usize> {
    match limit {
        None => Ok(DEFAULT_LIMIT.min(max)),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(AppError::validation("limit", format!("limit must be between 1 and {max}, got {n}"))),
    }
}

pub fn encode<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialize"))
}

pub fn decode<T: DeserializeOwned>(cursor: &str) -> AppResult<T> {
    let bad = || AppError::validation("cursor", "cursor is not one this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// Keyset position for lists sorted by `(updated_at DESC, id DESC)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdatedKey {
    pub u: String,
    pub i: String,
}

/// Cuts `rows` (fetched with `limit + 1`) to a page and derives the next cursor.
pub fn page<T>(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(key) } else { None };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert_eq!(check_limit(None, 200).unwrap(), 50);
        assert_eq!(check_limit(Some(200), 200).unwrap(), 200);
        for bad in [0, -1, 201] {
            assert_eq!(check_limit(Some(bad), 200).unwrap_err().status, 400);
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_400() {
        let k = UpdatedKey { u: "2026-01-01T00:00:00.000Z".into(), i: "abc".into() };
        assert_eq!(decode::<UpdatedKey>(&encode(&k)).unwrap(), k);
        for bad in ["", "!!!", "eyJ4IjoxfQ", "bm90IGpzb24"] {
            assert_eq!(decode::<UpdatedKey>(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn page_sets_next_only_when_more() {
        let (p, next) = page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((p, next.as_deref()), (vec![1, 2], Some("2")));
        let (p, next) = page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((p, next), (vec![1, 2], None));
    }
}

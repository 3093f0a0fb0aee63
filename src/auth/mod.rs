//! API tokens (`main/auth.sqlite`): created by the CLI or an admin, stored as SHA-256
//! hashes, compared in constant time. `auth.mode = "token"` makes every route but the open
//! ones require `Authorization: Bearer <token>`.

pub mod store;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who is calling, from a valid token (absent when `auth.mode = "none"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub token_id: String,
    pub user_id: String,
    pub admin: bool,
}

/// A fresh secret: `pb_` and 64 hex digits (two random UUIDv4s, 244 random bits).
pub fn new_secret() -> String {
    format!("pb_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two hashes, so response times say nothing about near misses.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hashes_compare() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 67);
        assert!(same_hash(&hash(&a), &hash(&a)));
        assert!(!same_hash(&hash(&a), &hash(&b)));
        assert!(!same_hash("abc", "abcd"));
    }
}

//! Serde for u128 amounts as decimal strings (JSON numbers lose precision
//! past 2^53 in most clients). Accepts strings or integers on input.

use serde::{Deserialize, Deserializer, Serializer, de};

/// Writes the amount as a decimal string.
pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Reads a decimal string (any u128) or a JSON integer (at most u64).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    match Either::deserialize(d)? {
        Either::S(s) => s
            .parse()
            .map_err(|_| de::Error::custom(format!("invalid amount {s:?}: expected base units"))),
        Either::N(n) => Ok(n as u128),
    }
}

/// Same for `Option<u128>`.
pub mod option {
    use super::*;
    /// Writes `Some` as a decimal string, `None` as null.
    pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
    /// Reads null as `None`, otherwise an amount as [`super::deserialize`] does.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super")] u128);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

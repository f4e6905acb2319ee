//! Serde for u128 amounts as decimal strings (JSON numbers lose precision
//! past 2^53 in most clients). Accepts strings or integers on input.

use serde::{Deserialize, Deserializer, Serializer, de};

pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

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
    pub fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u128>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "super")] u128);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

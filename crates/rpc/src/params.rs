//! Parameter types of `LakhApi` ([`crate::LakhApiServer`]). Each one's parse
//! error names the parameter (``invalid param `height`: ...``), so a client
//! learns which value was wrong; the shape of the parameter list is checked
//! by the server's `StrictParams` middleware before any of these is parsed.

use crate::schema;
use crate::types::{AssetRef, Hash32, decode_hex};
use bytes::Bytes;
use lakh_types::{Address, TxId};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// Bytes travelling as a hex string (optional `0x` prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexBytes(pub Bytes);

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Borrowed from the request when the string has no escapes.
        let s = <Cow<'de, str>>::deserialize(d)?;
        decode_hex(&s)
            .map(|v| HexBytes(Bytes::from(v)))
            .map_err(D::Error::custom)
    }
}

/// Newtypes around a parameter's value whose parse error names the parameter.
macro_rules! named_params {
    ($($(#[$doc:meta])* $ty:ident($inner:ty) as $schema:ty = $name:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $ty(pub $inner);

        impl JsonSchema for $ty {
            fn inline_schema() -> bool {
                <$schema>::inline_schema()
            }

            fn schema_name() -> Cow<'static, str> {
                <$schema>::schema_name()
            }

            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                <$schema>::json_schema(generator)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$inner>::deserialize(d)
                    .map($ty)
                    .map_err(|e| named_error::<D>($name, &e.to_string()))
            }
        }
    )*};
}

named_params! {
    /// `tx`: one raw signed transaction, hex.
    TxParam(HexBytes) as schema::HexBytes = "tx";
    /// `id`: a transaction id, 64 hex characters.
    TxIdParam(TxId) as TxId = "id";
    /// `address`: an account address, 64 hex characters.
    AddressParam(Address) as Address = "address";
    /// `height`: a block height.
    HeightParam(u64) as u64 = "height";
    /// `hash`: a block hash, 64 hex characters.
    HashParam(Hash32) as schema::Hash32 = "hash";
    /// `asset`: an asset id (JSON number) or symbol (JSON string).
    AssetParam(AssetRef) as schema::AssetRef = "asset";
    /// `cursor`: where a page of an account's history continues.
    CursorParam(u64) as u64 = "cursor";
    /// `limit`: most items in a page.
    LimitParam(u32) as u32 = "limit";
}

/// `txs`: raw signed transactions, hex; a bad one is named by its index
/// (`txs[3]`). One buffer per transaction: a shared batch buffer would stay
/// alive as long as any one of its transactions sits in the mempool,
/// defeating the mempool's byte accounting.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TxListParam(pub Vec<Bytes>);

impl JsonSchema for TxListParam {
    fn schema_name() -> Cow<'static, str> {
        "TxList".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Vec<schema::HexBytes>>::json_schema(generator)
    }
}

impl Serialize for TxListParam {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(hex::encode))
    }
}

impl<'de> Deserialize<'de> for TxListParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = TxListParam;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of hex transactions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TxListParam, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4_096));
                loop {
                    let index = out.len();
                    let next = seq.next_element::<HexBytes>().map_err(|e| {
                        let reason = e.to_string();
                        A::Error::custom(format_args!(
                            "invalid param `txs[{index}]`: {}",
                            without_position(&reason)
                        ))
                    })?;
                    match next {
                        Some(tx) => out.push(tx.0),
                        None => return Ok(TxListParam(out)),
                    }
                }
            }
        }
        d.deserialize_seq(ListVisitor).map_err(|e| {
            let text = e.to_string();
            if text.starts_with("invalid param") {
                e
            } else {
                named_error::<D>("txs", &text)
            }
        })
    }
}

fn named_error<'de, D: Deserializer<'de>>(name: &str, reason: &str) -> D::Error {
    D::Error::custom(format_args!(
        "invalid param `{name}`: {}",
        without_position(reason)
    ))
}

/// The reason without serde_json's ` at line L column C` suffix, which the
/// outer error gets again.
fn without_position(reason: &str) -> &str {
    match reason.rfind(" at line ") {
        Some(i)
            if reason[i + 9..]
                .split(" column ")
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            &reason[..i]
        }
        _ => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_parameter() {
        let e = serde_json::from_str::<HeightParam>("-1").unwrap_err();
        assert!(e.to_string().contains("`height`"), "{e}");
        let e = serde_json::from_str::<TxParam>("\"zz\"").unwrap_err();
        assert!(e.to_string().contains("`tx`: not hex"), "{e}");
        let e = serde_json::from_str::<TxListParam>(r#"["00", "0x0g"]"#).unwrap_err();
        assert!(e.to_string().contains("`txs[1]`"), "{e}");
        assert!(!e.to_string().contains("column 3 at"), "{e}");
        let e = serde_json::from_str::<TxListParam>("7").unwrap_err();
        assert!(e.to_string().contains("`txs`"), "{e}");
    }

    #[test]
    fn hex_parameters_round_trip() {
        let list = TxListParam(vec![Bytes::from_static(&[1, 2]), Bytes::new()]);
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(json, r#"["0102",""]"#);
        assert_eq!(serde_json::from_str::<TxListParam>(&json).unwrap(), list);
        let tx = TxParam(HexBytes(Bytes::from_static(&[0xab])));
        let json = serde_json::to_string(&tx).unwrap();
        assert_eq!(serde_json::from_str::<TxParam>(&json).unwrap(), tx);
    }
}

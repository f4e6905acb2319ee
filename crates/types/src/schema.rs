//! JSON Schemas of the types whose JSON form is hand-written here (hex
//! strings, checked symbols), for the RPC's OpenRPC document.

use crate::{Address, AssetId, Symbol, TxId};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// Implements `JsonSchema` with a fixed schema.
macro_rules! fixed_schema {
    ($($ty:ty => $schema:tt;)*) => {$(
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    )*};
}

fixed_schema! {
    Address => {
        "type": "string",
        "pattern": "^(0x)?[0-9a-fA-F]{64}$",
        "description": "an account address: an ed25519 public key (32 bytes), hex"
    };
    TxId => {
        "type": "string",
        "pattern": "^(0x)?[0-9a-fA-F]{64}$",
        "description": "a transaction id: the hash of its signed encoding (32 bytes), hex"
    };
    AssetId => {
        "type": "integer",
        "minimum": 0,
        "maximum": 18446744073709551615u64,
        "description": "an asset id (0 is the native token LAKH)"
    };
    Symbol => {
        "type": "string",
        "pattern": "^[A-Z0-9]{1,12}$",
        "description": "a ticker symbol: 1 to 12 of A-Z, 0-9"
    };
}

//! JSON Schemas of the wire forms this crate does not derive: types from
//! `lakh_types` (foreign to this crate) and hand-written serde forms. Each
//! marker type stands, in `#[schemars(with = ..)]`, for the value a field
//! really holds, so the OpenRPC document ([`crate::discover`]) describes
//! what goes over the wire.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// Defines a marker type with a fixed schema.
macro_rules! fixed_schemas {
    ($($(#[$doc:meta])* $name:ident => $schema:tt;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    )*};
}

fixed_schemas! {
    /// 32 bytes in hex.
    Hash32 => {
        "type": "string",
        "pattern": "^(0x)?[0-9a-fA-F]{64}$",
        "description": "32 bytes, hex"
    };
    /// Bytes of any length in hex.
    HexBytes => {
        "type": "string",
        "pattern": "^(0x)?([0-9a-fA-F]{2})*$",
        "description": "bytes, hex"
    };
    /// An amount in base units (u128) as a decimal string: JSON numbers
    /// lose precision past 2^53.
    Amount => {
        "type": "string",
        "pattern": "^[0-9]{1,39}$",
        "description": "an amount in base units (u128), decimal digits"
    };
    /// An asset by id (number) or symbol (string).
    AssetRef => {
        "oneOf": [
            {"type": "integer", "minimum": 0, "description": "an asset id"},
            {"type": "string", "pattern": "^[A-Z0-9]{1,12}$", "description": "a symbol"}
        ]
    };
    /// A state key as the proofs name it.
    StateKey => {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["account", "balance", "asset", "symbol", "object"]},
            "address": {"type": "string"},
            "asset": {"type": "integer"},
            "symbol": {"type": "string"},
            "kind": {"type": "integer", "minimum": 0, "maximum": 255},
            "id": {"type": "string", "description": "the object's id, hex"}
        },
        "description": "a state key: an account, a balance, an asset, a symbol or a module object"
    };
    /// A committee elected for an epoch.
    Committee => {
        "type": "object",
        "description": "the validators elected for the next epoch, with their stakes and keys (docs/modules/stake.md)"
    };
    /// What a block's end-of-block hooks did, in order: events tagged by
    /// module and kind (`{"type": "stake", "kind": "slashed", ...}`).
    BlockEvents => {
        "type": "array",
        "items": {"type": "object"},
        "description": "slashes (docs/modules/stake.md, Slashing), insurance payouts and other events no transaction's receipt holds"
    };
    /// A transaction's receipt.
    Receipt => {
        "type": "object",
        "required": ["tx_id", "sender", "nonce", "height", "index", "fee_paid", "status", "events"],
        "properties": {
            "tx_id": {"type": "string", "description": "the transaction id, hex"},
            "sender": {"type": "string", "description": "the signer's address, hex"},
            "nonce": {"type": "integer", "minimum": 0},
            "height": {"type": "integer", "minimum": 0, "description": "the finalized block that includes it"},
            "index": {"type": "integer", "minimum": 0, "description": "its position in that block"},
            "fee_paid": {"type": "string", "pattern": "^[0-9]{1,39}$", "description": "native base units charged"},
            "status": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"enum": ["success", "failed"]},
                    "error": {
                        "type": "object",
                        "required": ["reason", "code"],
                        "description": "why it failed: `reason` names the module, `code` is stable (docs/MODULES.md)"
                    }
                }
            },
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "description": "what the action did; `type` names the module or the bank event (docs/MODULES.md)"
                }
            }
        }
    };
}

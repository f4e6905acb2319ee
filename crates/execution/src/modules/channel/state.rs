//! The channel module's objects, their keys and each channel's custody.
//!
//! The [`Channel`] itself is a wire type (`lakh_types::modules::channel`), so
//! queries and wallets read it as stored.

use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::Address;
use lakh_types::modules::channel::{ChannelId, Hash32, digest};
use serde::Serialize;

/// Object kinds of the module (range `object_kind::CHANNEL`).
pub mod kind {
    use super::object_kind;
    /// `Channel`, id = the channel id (32 bytes).
    pub const CHANNEL: u8 = object_kind::CHANNEL.start;
    /// [`super::Pair`], id = sha256 of the two addresses in ascending order.
    pub const PAIR: u8 = object_kind::CHANNEL.start + 1;
    /// [`super::Secret`], id = the hash lock (32 bytes).
    pub const SECRET: u8 = object_kind::CHANNEL.start + 2;
    /// [`super::IndexHead`], id = the address (32 bytes).
    pub const INDEX_HEAD: u8 = object_kind::CHANNEL.start + 3;
    /// [`super::IndexEntry`], id = sha256 of the address and the channel id.
    pub const INDEX_ENTRY: u8 = object_kind::CHANNEL.start + 4;
}

lakh_types::codec_struct! {
    /// A pair of accounts' channel counter: every channel they open takes the
    /// next value, so no two of their channels share an id.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
    pub struct Pair {
        pub next_counter: u64,
    }
}

lakh_types::codec_struct! {
    /// A revealed secret: the height it became public at.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Secret {
        pub revealed_height: u64,
    }
}

lakh_types::codec_struct! {
    /// The newest channel of an address's list and the list's length.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct IndexHead {
        pub last: ChannelId,
        pub count: u64,
    }
}

lakh_types::codec_struct! {
    /// One channel in an address's list, linked to the one before it. The
    /// list only grows: a paid-out channel stays listed (its object is gone).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct IndexEntry {
        pub prev: Option<ChannelId>,
    }
}

pub fn channel_key(id: &ChannelId) -> StateKey {
    object_key(kind::CHANNEL, &[&id.0])
}

/// The pair's key, the same whichever participant comes first.
pub fn pair_key(participants: &[Address; 2]) -> StateKey {
    let (a, b) = if participants[0] <= participants[1] {
        (participants[0], participants[1])
    } else {
        (participants[1], participants[0])
    };
    object_key(kind::PAIR, &[&digest(&[a.as_bytes(), b.as_bytes()]).0])
}

pub fn secret_key(hash_lock: &Hash32) -> StateKey {
    object_key(kind::SECRET, &[&hash_lock.0])
}

pub fn index_head_key(owner: &Address) -> StateKey {
    object_key(kind::INDEX_HEAD, &[owner.as_bytes()])
}

pub fn index_entry_key(owner: &Address, channel: &ChannelId) -> StateKey {
    object_key(
        kind::INDEX_ENTRY,
        &[&digest(&[owner.as_bytes(), &channel.0]).0],
    )
}

/// The account holding a channel's deposits.
pub fn custody(channel: &ChannelId) -> Address {
    Address::module("channel", &channel.0)
}

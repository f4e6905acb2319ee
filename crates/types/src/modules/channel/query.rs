//! Typed answers of the channel module's queries.

use super::{Channel, ChannelId, Hash32};
use crate::Address;
use serde::{Deserialize, Serialize};

/// Most channels one `channels` page lists.
pub const MAX_CHANNELS_PAGE: usize = 50;

/// Answer to `channel channel {channel}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAnswer {
    /// The channel as the chain keeps it.
    pub channel: Channel,
    /// Its custody account.
    pub custody: Address,
    /// The custody's balance of the channel's asset (base units).
    #[serde(with = "crate::amount")]
    pub held: u128,
    /// What settling the registered state would pay each participant now.
    #[serde(with = "super::amount_pair")]
    pub payouts: [u128; 2],
    /// Height of the state read.
    pub height: u64,
}

/// One channel in an address's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEntry {
    /// The channel's id.
    pub id: ChannelId,
    /// The channel, while the chain still keeps it (`None`: paid out).
    pub channel: Option<Channel>,
}

/// Answer to `channel channels {address, before?, limit?}`: the channels the
/// address took part in, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelsAnswer {
    /// The address.
    pub address: Address,
    /// Channels it ever took part in.
    pub total: u64,
    /// Up to `limit` channels before the cursor, newest first.
    pub channels: Vec<ChannelEntry>,
    /// Cursor for the next (older) page, if any.
    pub before: Option<ChannelId>,
}

/// Answer to `channel pair {participants}`: what the next channel of a pair needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairAnswer {
    /// The two participants, as asked.
    pub participants: [Address; 2],
    /// The counter the pair's next channel opens with.
    pub next_counter: u64,
}

/// Answer to `channel secret {hash_lock}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretAnswer {
    /// The hash lock asked about.
    pub hash_lock: Hash32,
    /// Height its secret was revealed at, if it was.
    pub revealed_height: Option<u64>,
}

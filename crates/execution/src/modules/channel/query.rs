//! Read-only queries: `channel`, `channels` (an address's, newest first,
//! paged), `pair` (the next counter) and `secret`.

use super::math;
use super::state::{
    IndexEntry, IndexHead, Pair, Secret, channel_key, custody, index_entry_key, index_head_key,
    pair_key, secret_key,
};
use crate::modules::kit::{QueryCtx, QueryError, params, query_overflow};
use lakh_types::Address;
use lakh_types::modules::channel::query::{
    ChannelAnswer, ChannelEntry, ChannelsAnswer, MAX_CHANNELS_PAGE, PairAnswer, SecretAnswer,
};
use lakh_types::modules::channel::{Channel, ChannelId, ChannelStatus, Hash32};
use serde::Deserialize;
use serde_json::Value;

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "channel" => serde_json::to_value(channel(params(p)?, ctx)?),
        "channels" => serde_json::to_value(channels(params(p)?, ctx)?),
        "pair" => serde_json::to_value(pair(params(p)?, ctx)?),
        "secret" => serde_json::to_value(secret(params(p)?, ctx)?),
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown method {other:?}; channel methods: channel, channels, pair, secret"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelQuery {
    channel: ChannelId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelsQuery {
    address: Address,
    #[serde(default)]
    before: Option<ChannelId>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairQuery {
    participants: [Address; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretQuery {
    hash_lock: Hash32,
}

fn channel(q: ChannelQuery, ctx: &QueryCtx<'_>) -> Result<ChannelAnswer, QueryError> {
    let channel = ctx
        .object::<Channel>(&channel_key(&q.channel))?
        .ok_or_else(|| QueryError::NotFound(format!("channel {}", q.channel)))?;
    let payouts = match channel.status {
        ChannelStatus::Settled {} => [0, 0],
        _ => math::payouts(&channel.state, &channel.deposits)
            .ok_or_else(|| query_overflow("the channel's payouts"))?,
    };
    let custody = custody(&channel.id);
    Ok(ChannelAnswer {
        held: ctx.balance(&custody, channel.asset)?,
        custody,
        payouts,
        height: ctx.height,
        channel,
    })
}

fn channels(q: ChannelsQuery, ctx: &QueryCtx<'_>) -> Result<ChannelsAnswer, QueryError> {
    let limit = q
        .limit
        .unwrap_or(MAX_CHANNELS_PAGE)
        .clamp(1, MAX_CHANNELS_PAGE);
    let head = ctx.object::<IndexHead>(&index_head_key(&q.address))?;
    let total = head.as_ref().map_or(0, |h| h.count);
    let mut next = match q.before {
        Some(cursor) => Some(cursor),
        None => head.map(|h| h.last),
    };
    let mut channels = Vec::new();
    while let Some(id) = next {
        if channels.len() == limit {
            break;
        }
        let entry = ctx
            .object::<IndexEntry>(&index_entry_key(&q.address, &id))?
            .ok_or_else(|| QueryError::NotFound(format!("channel {id} of {}", q.address)))?;
        next = entry.prev;
        channels.push(ChannelEntry {
            id,
            channel: ctx.object::<Channel>(&channel_key(&id))?,
        });
    }
    Ok(ChannelsAnswer {
        address: q.address,
        total,
        channels,
        before: next,
    })
}

fn pair(q: PairQuery, ctx: &QueryCtx<'_>) -> Result<PairAnswer, QueryError> {
    let pair = ctx
        .object::<Pair>(&pair_key(&q.participants))?
        .unwrap_or_default();
    Ok(PairAnswer {
        participants: q.participants,
        next_counter: pair.next_counter,
    })
}

fn secret(q: SecretQuery, ctx: &QueryCtx<'_>) -> Result<SecretAnswer, QueryError> {
    let secret = ctx.object::<Secret>(&secret_key(&q.hash_lock))?;
    Ok(SecretAnswer {
        hash_lock: q.hash_lock,
        revealed_height: secret.map(|s| s.revealed_height),
    })
}

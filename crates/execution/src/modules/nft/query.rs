//! Read-only queries: `collection`, `token`, `history`, `listing`, `offer`,
//! `auction`, `licence`. Amounts are decimal strings; ids and heights are
//! numbers.

use super::{keys, math, state};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::Address;
use lakh_types::modules::nft::query::{
    AuctionAnswer, CollectionAnswer, HistoryAnswer, LicenceAnswer, ListingAnswer, OfferAnswer,
    TokenAnswer,
};
use lakh_types::modules::nft::{
    Auction, Collection, CollectionId, HistoryRecord, HistoryRef, Licence, LicenceId, Listing,
    MAX_HISTORY_PAGE, MIN_BID_INCREMENT_BPS, NftParams, Offer, OfferId, Provenance, Token, TokenId,
    auction_custody, offer_custody,
};
use serde::Deserialize;
use serde_json::Value;

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "collection" => serde_json::to_value(collection(params(p)?, ctx)?),
        "token" => serde_json::to_value(token(params(p)?, ctx)?),
        "history" => serde_json::to_value(history(params(p)?, ctx)?),
        "listing" => serde_json::to_value(listing(params(p)?, ctx)?),
        "offer" => serde_json::to_value(offer(params(p)?, ctx)?),
        "auction" => serde_json::to_value(auction(params(p)?, ctx)?),
        "licence" => serde_json::to_value(licence(params(p)?, ctx)?),
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown method {other:?}; nft methods: collection, token, history, listing, offer, auction, licence"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectionQuery {
    collection: CollectionId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenQuery {
    token: TokenId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    token: TokenId,
    #[serde(default)]
    before: Option<HistoryRef>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferQuery {
    offer: OfferId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenceQuery {
    licence: LicenceId,
}

fn load_collection(id: CollectionId, ctx: &QueryCtx<'_>) -> Result<Collection, QueryError> {
    ctx.object::<Collection>(&keys::collection(id))?
        .ok_or_else(|| QueryError::NotFound(format!("collection {id}")))
}

fn load_token(id: TokenId, ctx: &QueryCtx<'_>) -> Result<Token, QueryError> {
    ctx.object::<Token>(&keys::token(id))?
        .ok_or_else(|| QueryError::NotFound(format!("token {id}")))
}

fn collection(q: CollectionQuery, ctx: &QueryCtx<'_>) -> Result<CollectionAnswer, QueryError> {
    Ok(CollectionAnswer {
        collection: q.collection,
        info: load_collection(q.collection, ctx)?,
    })
}

/// What a sale of `token` by its owner would pay now: the collections and
/// the accounts it may credit.
fn current_payees(
    token: &Token,
    ctx: &QueryCtx<'_>,
) -> Result<(Vec<CollectionId>, Vec<Address>), QueryError> {
    let ids = state::paid_collections(token);
    let mut collections = Vec::new();
    for id in &ids {
        collections.push((*id, load_collection(*id, ctx)?));
    }
    let params = ctx
        .object::<NftParams>(&keys::params())?
        .unwrap_or_default();
    let payees = match state::build_plan(token, &collections, &params) {
        Ok(plan) => state::possible_payees(&plan, &token.owner),
        Err(_) => vec![token.owner],
    };
    Ok((ids, payees))
}

fn token(q: TokenQuery, ctx: &QueryCtx<'_>) -> Result<TokenAnswer, QueryError> {
    let info = load_token(q.token, ctx)?;
    let collection = load_collection(info.collection, ctx)?;
    let provenance = ctx.object::<Provenance>(&keys::provenance(q.token))?;
    let listing = ctx.object::<Listing>(&keys::listing(q.token))?;
    let listing_live = listing.as_ref().is_some_and(|l| live(l, &info, ctx.height));
    let auction = ctx.object::<Auction>(&keys::auction(q.token))?;
    let (collections, _) = current_payees(&info, ctx)?;
    let split_payees = collection.split.iter().map(|s| s.recipient).collect();
    Ok(TokenAnswer {
        token: q.token,
        info,
        collection,
        provenance,
        listing,
        listing_live,
        auction,
        collections,
        split_payees,
    })
}

fn live(l: &Listing, token: &Token, height: u64) -> bool {
    height < l.expiry_height
        && token.moves == l.moves
        && token.owner == l.seller
        && !token.in_auction
}

fn history(q: HistoryQuery, ctx: &QueryCtx<'_>) -> Result<HistoryAnswer, QueryError> {
    let token = load_token(q.token, ctx)?;
    let limit = q
        .limit
        .unwrap_or(MAX_HISTORY_PAGE)
        .clamp(1, MAX_HISTORY_PAGE);
    let mut next = match q.before {
        Some(cursor) => Some(cursor),
        None => token.last_history,
    };
    let mut entries: Vec<HistoryRecord> = Vec::new();
    while let Some(at) = next {
        if entries.len() == limit {
            break;
        }
        let record = ctx
            .object::<HistoryRecord>(&keys::history(q.token, &at.sender, at.nonce))?
            .ok_or_else(|| QueryError::NotFound(format!("history entry {at:?}")))?;
        next = record.prev;
        entries.push(record);
    }
    entries.reverse();
    Ok(HistoryAnswer {
        token: q.token,
        total: token.history_len,
        entries,
        before: next,
    })
}

fn listing(q: TokenQuery, ctx: &QueryCtx<'_>) -> Result<ListingAnswer, QueryError> {
    let listing = ctx
        .object::<Listing>(&keys::listing(q.token))?
        .ok_or_else(|| QueryError::NotFound(format!("listing of token {}", q.token)))?;
    let token = load_token(q.token, ctx)?;
    let payees = state::possible_payees(&listing.plan, &listing.seller);
    Ok(ListingAnswer {
        token: q.token,
        live: live(&listing, &token, ctx.height),
        listing,
        payees,
    })
}

fn offer(q: OfferQuery, ctx: &QueryCtx<'_>) -> Result<OfferAnswer, QueryError> {
    let info = ctx
        .object::<Offer>(&keys::offer(q.offer))?
        .ok_or_else(|| QueryError::NotFound(format!("offer {}", q.offer)))?;
    let token = load_token(info.token, ctx)?;
    let (collections, payees) = current_payees(&token, ctx)?;
    Ok(OfferAnswer {
        offer: q.offer,
        custody: offer_custody(q.offer),
        info,
        payees,
        collections,
    })
}

fn auction(q: TokenQuery, ctx: &QueryCtx<'_>) -> Result<AuctionAnswer, QueryError> {
    let auction = ctx
        .object::<Auction>(&keys::auction(q.token))?
        .ok_or_else(|| QueryError::NotFound(format!("auction of token {}", q.token)))?;
    let min_bid = math::min_bid(auction.reserve, auction.highest_bid, MIN_BID_INCREMENT_BPS)
        .ok_or_else(|| crate::modules::kit::query_overflow("the least next bid"))?;
    let payees = state::possible_payees(&auction.plan, &auction.seller);
    Ok(AuctionAnswer {
        token: q.token,
        custody: auction_custody(q.token),
        min_bid,
        ended: ctx.height >= auction.end_height,
        auction,
        payees,
    })
}

fn licence(q: LicenceQuery, ctx: &QueryCtx<'_>) -> Result<LicenceAnswer, QueryError> {
    let info = ctx
        .object::<Licence>(&keys::licence(q.licence))?
        .ok_or_else(|| QueryError::NotFound(format!("licence {}", q.licence)))?;
    Ok(LicenceAnswer {
        licence: q.licence,
        info,
    })
}

//! Typed answers of the nft module's queries. Amounts are in base units of
//! the asset named beside them.

use super::{
    Auction, Collection, CollectionId, HistoryRecord, HistoryRef, Licence, LicenceId, Listing,
    Offer, OfferId, Provenance, Token, TokenId,
};
use crate::Address;
use serde::{Deserialize, Serialize};

/// Answer to `nft collection {collection}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionAnswer {
    /// The collection's id.
    pub collection: CollectionId,
    /// The collection.
    pub info: Collection,
}

/// Answer to `nft token {token}`: the token with its collection, provenance,
/// live listing or auction, and what a payload touching it must name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    /// The token's id.
    pub token: TokenId,
    /// The token.
    pub info: Token,
    /// Its collection.
    pub collection: Collection,
    /// Its provenance record, if revealed.
    pub provenance: Option<Provenance>,
    /// Its listing, if any (possibly stale or expired: see `listing_live`).
    pub listing: Option<Listing>,
    /// The listing can be bought now.
    pub listing_live: bool,
    /// Its auction, if any.
    pub auction: Option<Auction>,
    /// The collections a sale pays: the token's, then its ancestors'.
    pub collections: Vec<CollectionId>,
    /// The recipients of the collection's current split (a transfer fee or
    /// licence fee pays them).
    pub split_payees: Vec<Address>,
}

/// Answer to `nft history {token, before?, limit?}`: entries oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryAnswer {
    /// The token.
    pub token: TokenId,
    /// Entries the token has in all.
    pub total: u64,
    /// Up to `limit` entries before the cursor, oldest first.
    pub entries: Vec<HistoryRecord>,
    /// Cursor for the older page, if any.
    pub before: Option<HistoryRef>,
}

/// Answer to `nft listing {token}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingAnswer {
    /// The token.
    pub token: TokenId,
    /// The listing.
    pub listing: Listing,
    /// Buyable now (not expired, the token has not moved).
    pub live: bool,
    /// The accounts a purchase credits (the `payees` of `buy`).
    pub payees: Vec<Address>,
}

/// Answer to `nft offer {offer}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferAnswer {
    /// The offer's id.
    pub offer: OfferId,
    /// The offer.
    pub info: Offer,
    /// The account escrowing it.
    pub custody: Address,
    /// The accounts accepting it credits at the current splits.
    pub payees: Vec<Address>,
    /// The collections accepting it pays.
    pub collections: Vec<CollectionId>,
}

/// Answer to `nft auction {token}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionAnswer {
    /// The token.
    pub token: TokenId,
    /// The auction.
    pub auction: Auction,
    /// The account escrowing the highest bid.
    pub custody: Address,
    /// Least next bid (base units).
    #[serde(with = "crate::amount")]
    pub min_bid: u128,
    /// Bids are closed (settle from now).
    pub ended: bool,
    /// The accounts settling credits.
    pub payees: Vec<Address>,
}

/// Answer to `nft licence {licence}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceAnswer {
    /// The licence's id.
    pub licence: LicenceId,
    /// The licence.
    pub info: Licence,
}

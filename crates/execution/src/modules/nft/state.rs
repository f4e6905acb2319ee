//! How the module's stored objects combine: the royalty plan a sale
//! snapshots, a derivative's merged ancestry, and the accounts a payment
//! credits. Execution and queries share these.

use super::math::{self, Payouts};
use lakh_types::Address;
use lakh_types::codec::BoundedVec;
use lakh_types::modules::nft::{
    Ancestor, Collection, CollectionId, MAX_ANCESTORS, NftError, NftParams, PPM, Plan, PlanPart,
    Token,
};

/// The collections a sale of `token` pays: its own, then its ancestors'
/// (each once, in ancestry order).
pub fn paid_collections(token: &Token) -> Vec<CollectionId> {
    let mut ids = vec![token.collection];
    for a in token.ancestry.iter() {
        if !ids.contains(&a.collection) {
            ids.push(a.collection);
        }
    }
    ids
}

/// The plan of a sale of `token`: the collection's royalty and split, each
/// ancestor's share through its collection's split (merged per collection),
/// and the protocol fee. `collections` holds every id of
/// [`paid_collections`]. Refuses a plan above 100% of the price.
pub fn build_plan(
    token: &Token,
    collections: &[(CollectionId, Collection)],
    params: &NftParams,
) -> Result<Plan, NftError> {
    let find = |id: CollectionId| {
        collections
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, c)| c)
            .ok_or(NftError::UndeclaredCollection { collection: id })
    };
    let own = find(token.collection)?;
    let mut parts: Vec<PlanPart> = vec![PlanPart {
        collection: token.collection,
        rate_ppm: own.royalty_bps * 100,
        split: own.split.clone(),
    }];
    for a in token.ancestry.iter() {
        if let Some(p) = parts.iter_mut().find(|p| p.collection == a.collection) {
            p.rate_ppm = p.rate_ppm.saturating_add(a.share_ppm);
            continue;
        }
        parts.push(PlanPart {
            collection: a.collection,
            rate_ppm: a.share_ppm,
            split: find(a.collection)?.split.clone(),
        });
    }
    let plan = Plan {
        parts: BoundedVec::new(parts).ok_or(NftError::TooManyAncestors {
            ancestors: token.ancestry.len() as u32,
            max: MAX_ANCESTORS as u32,
        })?,
        fee_bps: params.fee_bps,
        fee_recipient: params.fee_recipient,
    };
    if !math::fits(plan.royalty_ppm(), plan.fee_bps) {
        return Err(NftError::RoyaltyAndFeeAbovePrice {
            royalty_ppm: plan.royalty_ppm(),
            fee_bps: plan.fee_bps,
        });
    }
    Ok(plan)
}

/// The accounts a sale credits: every recipient paid a positive amount, the
/// fee recipient if the fee is positive, the seller if the proceeds are.
pub fn credited(payouts: &Payouts, plan: &Plan, seller: &Address) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let mut add = |a: Address| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for p in payouts.payments.iter().filter(|p| p.amount > 0) {
        add(p.recipient);
    }
    if payouts.fee > 0 {
        add(plan.fee_recipient);
    }
    if payouts.proceeds > 0 {
        add(*seller);
    }
    out
}

/// Every account a sale under `plan` may credit, whatever the price: the
/// seller, every split recipient and the fee recipient (what a wallet puts
/// in `payees`).
pub fn possible_payees(plan: &Plan, seller: &Address) -> Vec<Address> {
    let mut out = vec![*seller];
    for part in plan.parts.iter() {
        for s in part.split.iter() {
            if !out.contains(&s.recipient) {
                out.push(s.recipient);
            }
        }
    }
    if plan.fee_bps > 0 && !out.contains(&plan.fee_recipient) {
        out.push(plan.fee_recipient);
    }
    out
}

/// Adds `share_ppm` for `token` of `collection` to an ancestry being built.
pub fn merge_ancestor(out: &mut Vec<Ancestor>, token: u64, collection: CollectionId, share: u32) {
    match out.iter_mut().find(|a| a.token == token) {
        Some(a) => a.share_ppm = a.share_ppm.saturating_add(share),
        None => out.push(Ancestor {
            token,
            collection,
            share_ppm: share,
        }),
    }
}

/// A derivative's ancestry within bounds: at most `MAX_ANCESTORS` works and
/// a stack that leaves room for the collection's own royalty.
pub fn check_ancestry(ancestry: &[Ancestor], royalty_bps: u32) -> Result<u32, NftError> {
    if ancestry.len() > MAX_ANCESTORS {
        return Err(NftError::TooManyAncestors {
            ancestors: ancestry.len() as u32,
            max: MAX_ANCESTORS as u32,
        });
    }
    let stack: u64 = ancestry.iter().map(|a| a.share_ppm as u64).sum();
    if stack as u128 + royalty_bps as u128 * 100 > PPM {
        return Err(NftError::RoyaltyStackTooHigh {
            stack_ppm: stack,
            royalty_bps,
        });
    }
    // stack <= PPM fits in u32.
    Ok(stack as u32)
}

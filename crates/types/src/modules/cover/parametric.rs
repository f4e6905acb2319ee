//! Parametric products: cover whose trigger the chain evaluates itself at
//! the end of every block, paying every eligible holder without a claim.
//!
//! A product lives in one of [`MAX_PRODUCTS`] fixed slots, so the end-of-block
//! hook knows which keys to read before it knows any state; the product
//! names every other key the hook needs (its source, its pool, the next
//! batch of holders). Rules: `docs/modules/cover.md`.

use super::{CoverId, PoolId, RiskName, check_risk_name};
use crate::codec::BoundedVec;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Identifier of a product: its slot, `0..MAX_PRODUCTS`.
pub type ProductId = u8;

/// Product slots: the hook reads every one of them each block.
pub const MAX_PRODUCTS: u8 = 8;
/// Most live covers one product holds (expired ones are pruned).
pub const MAX_HOLDINGS: usize = 64;
/// Most payouts one product makes in one block.
pub const MAX_BATCH: u32 = 32;
/// Longest pool-loss window (blocks): the product keeps one sample per block.
pub const MAX_WINDOW_BLOCKS: u64 = 32;
/// Samples a pool-loss trigger keeps (one per block of its window).
pub const MAX_SAMPLES: usize = MAX_WINDOW_BLOCKS as usize;
/// Longest run of blocks a price trigger may require.
pub const MAX_TRIGGER_BLOCKS: u64 = 10_000;
/// Longest cooldown (blocks).
pub const MAX_COOLDOWN_BLOCKS: u64 = 1_000_000;
/// Payouts kept per account in its payout log (oldest dropped first).
pub const MAX_PAYOUT_LOG: usize = 16;
/// Basis points in one.
pub const BPS: u32 = 10_000;

crate::tagged_enum! {
    /// The value a pool-loss trigger watches.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "source", rename_all = "snake_case")]
    pub enum LossSource {
        /// The reserve of `asset` in the AMM pool of `asset` and `other`.
        0x01 => DexReserve {
            /// The reserve watched.
            asset: AssetId,
            /// The pool's other asset.
            other: AssetId,
        },
        /// A lending market's cash.
        0x02 => LendCash {
            /// The market (its asset).
            market: AssetId,
        },
    }
}

crate::tagged_enum! {
    /// What fires a product.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "trigger", rename_all = "snake_case")]
    pub enum Trigger {
        /// The oracle median of `asset` (fresh reports only) is below
        /// `threshold` (or above, when `above`) at the end of `blocks`
        /// consecutive blocks. A stale feed breaks the run.
        0x01 => Price {
            /// The oracle feed.
            asset: AssetId,
            /// Price (quote units per whole token, scaled by 1e18).
            #[serde(with = "crate::amount")]
            threshold: u128,
            /// Fire above the threshold instead of below it.
            above: bool,
            /// Consecutive blocks the condition must hold.
            blocks: u64,
            /// The price the loss is measured from (the peg), for proportional payouts.
            #[serde(with = "crate::amount")]
            reference: u128,
        },
        /// The lending market of `market` writes off bad debt.
        0x02 => BadDebt {
            /// The market (its asset).
            market: AssetId,
        },
        /// `source` falls by more than `loss_bps` below its highest value of
        /// the last `window_blocks` blocks.
        0x03 => PoolLoss {
            /// The value watched.
            source: LossSource,
            /// Fall that fires, in basis points (1..=10000).
            loss_bps: u32,
            /// Blocks the highest value is taken over (1..=MAX_WINDOW_BLOCKS).
            window_blocks: u64,
        },
    }
}

crate::codec_struct! {
    /// A product's terms, fixed at creation.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ProductParams {
        /// The pool whose capital pays (and whose capacity limits sales).
        pub pool: PoolId,
        /// The pool's capital asset, copied so the hook knows the balances
        /// it moves without reading the pool first.
        pub asset: AssetId,
        /// Shown to buyers and recorded as the cover's risk, e.g. `depeg:USDC`.
        pub name: RiskName,
        /// What fires the product.
        pub trigger: Trigger,
        /// Pay the cover amount times the measured loss instead of in full.
        pub proportional: bool,
        /// Cover bought fewer than this many blocks before the trigger fires
        /// does not pay (at least 1: a cover bought in the firing block never pays).
        pub cooldown_blocks: u64,
        /// Most payouts per block (1..=MAX_BATCH); more holders wait for the next blocks.
        pub batch: u32,
        /// Smallest cover sold (base units, at least 1): a product holds at
        /// most `MAX_HOLDINGS` live covers, so filling it must cost real cover.
        #[serde(with = "crate::amount")]
        pub min_amount: u128,
    }
}

/// Checks product terms (stateless); the message says what is wrong.
pub fn validate_product(p: &ProductParams) -> Result<(), String> {
    check_risk_name(&p.name)?;
    if p.cooldown_blocks == 0 || p.cooldown_blocks > MAX_COOLDOWN_BLOCKS {
        return Err(format!(
            "cooldown_blocks {} must be within 1..={MAX_COOLDOWN_BLOCKS}",
            p.cooldown_blocks
        ));
    }
    if p.batch == 0 || p.batch > MAX_BATCH {
        return Err(format!("batch {} must be within 1..={MAX_BATCH}", p.batch));
    }
    if p.min_amount == 0 {
        return Err("min_amount must be at least 1".into());
    }
    match &p.trigger {
        Trigger::Price {
            threshold,
            blocks,
            reference,
            ..
        } => {
            if *threshold == 0 || *reference == 0 {
                return Err("threshold and reference must be positive".into());
            }
            if *blocks == 0 || *blocks > MAX_TRIGGER_BLOCKS {
                return Err(format!(
                    "blocks {blocks} must be within 1..={MAX_TRIGGER_BLOCKS}"
                ));
            }
        }
        Trigger::BadDebt { .. } => {}
        Trigger::PoolLoss {
            source,
            loss_bps,
            window_blocks,
        } => {
            if *loss_bps == 0 || *loss_bps > BPS {
                return Err(format!("loss_bps {loss_bps} must be within 1..=10000"));
            }
            if *window_blocks == 0 || *window_blocks > MAX_WINDOW_BLOCKS {
                return Err(format!(
                    "window_blocks {window_blocks} must be within 1..={MAX_WINDOW_BLOCKS}"
                ));
            }
            if let LossSource::DexReserve { asset, other } = source
                && asset == other
            {
                return Err("a dex pool needs two different assets".into());
            }
        }
    }
    Ok(())
}

crate::codec_struct! {
    /// One cover sold by a product.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct Holding {
        /// The cover (its object holds the same terms).
        pub cover: CoverId,
        /// Who is paid.
        pub holder: Address,
        /// Amount covered (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// Height it was bought at.
        pub start_height: u64,
        /// First height no longer covered.
        pub end_height: u64,
        /// The pool's expiry epoch holding the cover.
        pub release_epoch: u64,
        /// The event the cover is owed a payout for, once one fired for it.
        pub event_height: Option<u64>,
        /// Owed for that event (base units), reserved in the pool's pending claims.
        #[serde(with = "crate::amount")]
        pub owed: u128,
        /// Paid: a parametric cover pays at most once.
        pub paid: bool,
    }
}

impl Holding {
    /// Whether an event at `event_height` pays this cover: active then,
    /// bought at least `cooldown_blocks` before, and not owed or paid already.
    pub fn eligible(&self, event_height: u64, cooldown_blocks: u64) -> bool {
        self.event_height.is_none()
            && !self.paid
            && event_height < self.end_height
            && self.start_height.saturating_add(cooldown_blocks) <= event_height
    }

    /// Owed a payout not yet made.
    pub fn unpaid(&self) -> bool {
        self.event_height.is_some() && !self.paid
    }
}

crate::codec_struct! {
    /// What the trigger has seen so far.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct Watch {
        /// Evaluated at least once (the first evaluation only records).
        pub primed: bool,
        /// Price trigger: consecutive blocks the condition held, fresh prices only.
        pub streak_blocks: u64,
        /// Bad debt: the market's written-off total last seen.
        #[serde(with = "crate::amount")]
        pub bad_debt_seen: u128,
        /// Pool loss: the value at the end of each of the last blocks, oldest first.
        pub samples: BoundedVec<u128, MAX_SAMPLES>,
        /// Set when it fires, cleared once the condition clears: one event fires once.
        pub fired: bool,
        /// Events fired, ever.
        pub events: u64,
        /// Height of the last event (0 before any).
        pub last_event_height: u64,
    }
}

crate::codec_struct! {
    /// A product: its terms, its trigger's memory and its live covers.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Product {
        /// Terms.
        pub params: ProductParams,
        /// Created at this height; evaluated from the next block on.
        pub created_height: u64,
        /// The trigger's memory.
        pub watch: Watch,
        /// Next holding the payouts look at, while any cover is owed.
        pub cursor: Option<u32>,
        /// Live covers, in purchase order (the payout order).
        pub holdings: BoundedVec<Holding, MAX_HOLDINGS>,
        /// Paid out by the product, ever (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub paid_out: u128,
    }
}

crate::codec_struct! {
    /// One automatic payout.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct PayoutRecord {
        /// The product.
        pub product: ProductId,
        /// The cover paid.
        pub cover: CoverId,
        /// Height the trigger fired at.
        pub event_height: u64,
        /// Height of the payout.
        pub height: u64,
        /// Paid (base units of `asset`).
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// The asset paid in.
        pub asset: AssetId,
    }
}

crate::codec_struct! {
    /// An account's latest automatic payouts, oldest first.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct PayoutLog {
        /// At most [`MAX_PAYOUT_LOG`] records.
        pub records: BoundedVec<PayoutRecord, MAX_PAYOUT_LOG>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Text;

    fn product() -> ProductParams {
        ProductParams {
            pool: 1,
            asset: AssetId(7),
            name: Text::new("depeg:USDC").unwrap(),
            trigger: Trigger::Price {
                asset: AssetId(1),
                threshold: 95,
                above: false,
                blocks: 3,
                reference: 100,
            },
            proportional: false,
            cooldown_blocks: 5,
            batch: 8,
            min_amount: 1,
        }
    }

    #[test]
    fn product_terms_are_validated() {
        assert_eq!(validate_product(&product()), Ok(()));
        let loss = |loss_bps, window_blocks| Trigger::PoolLoss {
            source: LossSource::LendCash { market: AssetId(1) },
            loss_bps,
            window_blocks,
        };
        let bad = [
            ProductParams {
                cooldown_blocks: 0,
                ..product()
            },
            ProductParams {
                batch: MAX_BATCH + 1,
                ..product()
            },
            ProductParams {
                min_amount: 0,
                ..product()
            },
            ProductParams {
                name: Text::new("has space").unwrap(),
                ..product()
            },
            ProductParams {
                trigger: loss(0, 4),
                ..product()
            },
            ProductParams {
                trigger: loss(2_000, MAX_WINDOW_BLOCKS + 1),
                ..product()
            },
            ProductParams {
                trigger: Trigger::PoolLoss {
                    source: LossSource::DexReserve {
                        asset: AssetId(1),
                        other: AssetId(1),
                    },
                    loss_bps: 100,
                    window_blocks: 4,
                },
                ..product()
            },
        ];
        for p in bad {
            assert!(validate_product(&p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn eligibility_needs_the_cooldown_and_a_live_unpaid_cover() {
        let h = Holding {
            start_height: 10,
            end_height: 20,
            ..Holding::default()
        };
        assert!(!h.eligible(14, 5), "inside the cooldown");
        assert!(h.eligible(15, 5));
        assert!(h.eligible(19, 5));
        assert!(!h.eligible(20, 5), "expired");
        let owed = Holding {
            event_height: Some(15),
            ..h.clone()
        };
        assert!(!owed.eligible(16, 5) && owed.unpaid());
        let paid = Holding { paid: true, ..owed };
        assert!(!paid.eligible(16, 5) && !paid.unpaid());
    }
}

//! AMM DEX: constant-product pools (x·y = k) for any pair of assets with a
//! 0.3% fee paid to liquidity providers, liquidity shares issued as a bank
//! asset, exact-in and exact-out swaps over routes of up to four pools, and a
//! time-weighted price accumulator per pool.
//!
//! A pool is identified by its pair: the two asset ids in ascending order
//! ([`pool_id`]). Its assets sit in the bank balances of its custody address
//! ([`pool_custody`]) and its liquidity shares are the asset [`lp_asset_id`],
//! all derived from the pair alone, so every key an action touches follows
//! from its payload.

use crate::codec::{BoundedVec, Text};
use crate::{Address, AssetId, Symbol};
use serde::{Deserialize, Serialize};

pub mod query;

/// Most assets in a swap path (so at most four pools per route).
pub const MAX_PATH_ASSETS: usize = 5;
/// Shares minted to the pool's own custody address on the first deposit and
/// never redeemable: they keep the share price from being inflated by a tiny
/// first deposit and keep reserves above zero forever.
pub const MINIMUM_LIQUIDITY: u128 = 1_000;
/// Swap fee: the input counts for `FEE_KEPT_PER_MILLE / 1000` of itself (0.3% fee).
pub const FEE_KEPT_PER_MILLE: u128 = 997;
/// Denominator of [`FEE_KEPT_PER_MILLE`].
pub const PER_MILLE: u128 = 1_000;

/// A swap route: the assets traded through, first sold, last bought.
pub type Path = BoundedVec<AssetId, MAX_PATH_ASSETS>;

crate::tagged_enum! {
    /// What a `dex` transaction does. Amounts are base units. Deadlines are
    /// block heights: the action fails in any block above its deadline.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum DexAction {
        /// Creates the (empty) pool of a pair and its liquidity-share asset.
        /// Anyone may; one pool per unordered pair. `lp_symbol` names the
        /// share asset ([`default_lp_symbol`] when absent).
        0x01 => CreatePool {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// Symbol of the liquidity-share asset; [`default_lp_symbol`] when absent.
            #[serde(default)]
            lp_symbol: Option<Symbol>,
        },
        /// Deposits at most `max_amount_a` and `max_amount_b` at the pool's
        /// price for at least `min_shares` shares. The first deposit sets the
        /// price and takes both maxima in full.
        0x02 => AddLiquidity {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// Most of `asset_a` to deposit (base units).
            #[serde(with = "crate::amount")]
            max_amount_a: u128,
            /// Most of `asset_b` to deposit (base units).
            #[serde(with = "crate::amount")]
            max_amount_b: u128,
            /// Fewest shares to accept (base units of the share asset); 0 when absent.
            #[serde(with = "crate::amount", default)]
            min_shares: u128,
            /// Last block height at which the action may execute.
            deadline_height: u64,
        },
        /// Burns `shares` for their pro-rata part of both reserves.
        0x03 => RemoveLiquidity {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// Shares to burn (base units of the share asset).
            #[serde(with = "crate::amount")]
            shares: u128,
            /// Fewest of `asset_a` to accept (base units); 0 when absent.
            #[serde(with = "crate::amount", default)]
            min_amount_a: u128,
            /// Fewest of `asset_b` to accept (base units); 0 when absent.
            #[serde(with = "crate::amount", default)]
            min_amount_b: u128,
            /// Last block height at which the action may execute.
            deadline_height: u64,
        },
        /// Sells exactly `amount_in` of `path[0]` through the pools of
        /// consecutive pairs for at least `min_amount_out` of the last asset.
        0x04 => SwapExactIn {
            /// Assets traded through, first sold, last bought (2..=`MAX_PATH_ASSETS`).
            path: Path,
            /// Exact amount of `path[0]` to sell (base units).
            #[serde(with = "crate::amount")]
            amount_in: u128,
            /// Fewest of the last asset to accept (base units).
            #[serde(with = "crate::amount")]
            min_amount_out: u128,
            /// Last block height at which the action may execute.
            deadline_height: u64,
        },
        /// Buys exactly `amount_out` of the last asset of `path`, selling at
        /// most `max_amount_in` of `path[0]`.
        0x05 => SwapExactOut {
            /// Assets traded through, first sold, last bought (2..=`MAX_PATH_ASSETS`).
            path: Path,
            /// Exact amount of the last asset to buy (base units).
            #[serde(with = "crate::amount")]
            amount_out: u128,
            /// Most of `path[0]` to sell (base units).
            #[serde(with = "crate::amount")]
            max_amount_in: u128,
            /// Last block height at which the action may execute.
            deadline_height: u64,
        },
    }
}

crate::tagged_enum! {
    /// Something a `dex` action did, recorded in its receipt (next to the
    /// bank's transfer, mint and burn events). Pairs are in pool order
    /// (`asset_a < asset_b`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum DexEvent {
        /// A new pool and its share asset.
        0x01 => PoolCreated {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// The pool's liquidity-share asset.
            lp_asset: AssetId,
            /// Address holding the pool's reserves.
            custody: Address,
        },
        /// The sender deposited `amount_a` and `amount_b` for `shares`;
        /// `locked_shares` more went to the pool's custody (first deposit only).
        0x02 => LiquidityAdded {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// Amount of `asset_a` moved (base units).
            #[serde(with = "crate::amount")]
            amount_a: u128,
            /// Amount of `asset_b` moved (base units).
            #[serde(with = "crate::amount")]
            amount_b: u128,
            /// Shares credited to the sender (base units).
            #[serde(with = "crate::amount")]
            shares: u128,
            /// Shares minted to the pool's custody and never redeemable (base units).
            #[serde(with = "crate::amount")]
            locked_shares: u128,
        },
        /// The sender burned `shares` for `amount_a` and `amount_b`.
        0x03 => LiquidityRemoved {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
            /// Amount of `asset_a` moved (base units).
            #[serde(with = "crate::amount")]
            amount_a: u128,
            /// Amount of `asset_b` moved (base units).
            #[serde(with = "crate::amount")]
            amount_b: u128,
            /// Shares burned (base units).
            #[serde(with = "crate::amount")]
            shares: u128,
        },
        /// One hop of a swap, with the pool's reserves after it.
        0x04 => Swapped {
            /// Asset sold.
            asset_in: AssetId,
            /// Asset bought.
            asset_out: AssetId,
            /// Amount sold into the pool (base units).
            #[serde(with = "crate::amount")]
            amount_in: u128,
            /// Amount paid out by the pool (base units).
            #[serde(with = "crate::amount")]
            amount_out: u128,
            /// The pool's reserve of `asset_in` after the hop (base units).
            #[serde(with = "crate::amount")]
            reserve_in: u128,
            /// The pool's reserve of `asset_out` after the hop (base units).
            #[serde(with = "crate::amount")]
            reserve_out: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why a `dex` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum DexError {
        /// Both assets of a pair are the same.
        #[error("a pool needs two different assets, got {asset} twice")]
        0x01 => SameAsset {
            /// The asset concerned.
            asset: AssetId,
        },
        /// The pair already has a pool.
        #[error("the pool of assets {asset_a} and {asset_b} already exists")]
        0x02 => PoolExists {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
        },
        /// The pair has no pool.
        #[error("there is no pool of assets {asset_a} and {asset_b}")]
        0x03 => PoolNotFound {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
        },
        /// An amount that must be positive is zero.
        #[error("{field} must be positive")]
        0x04 => ZeroAmount {
            /// Name of the offending field.
            field: Text<24>,
        },
        /// The swap path is too short or too long.
        #[error("a swap path holds 2 to {max} assets, got {len}")]
        0x05 => BadPathLength {
            /// Assets in the given path.
            len: u64,
            /// Most assets a path may hold.
            max: u64,
        },
        /// The swap path uses one pool twice.
        #[error("the path goes through the pool of assets {asset_a} and {asset_b} twice")]
        0x06 => RepeatedPool {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
        },
        /// The block height is past the action's deadline.
        #[error("deadline {deadline_height} has passed (block {height})")]
        0x07 => Expired {
            /// Last block height at which the action may execute.
            deadline_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The swap pays less than the action's minimum.
        #[error("output {amount_out} is below the minimum {min_amount_out}")]
        0x08 => InsufficientOutput {
            /// Output the swap would give (base units).
            #[serde(with = "crate::amount")]
            amount_out: u128,
            /// The action's minimum (base units).
            #[serde(with = "crate::amount")]
            min_amount_out: u128,
        },
        /// The swap needs more input than the action's maximum.
        #[error("input {amount_in} is above the maximum {max_amount_in}")]
        0x09 => ExcessiveInput {
            /// Input the swap would need (base units).
            #[serde(with = "crate::amount")]
            amount_in: u128,
            /// The action's maximum (base units).
            #[serde(with = "crate::amount")]
            max_amount_in: u128,
        },
        /// The deposit mints fewer shares than the action's minimum.
        #[error("the deposit would mint {shares} shares, below the minimum {min_shares}")]
        0x0a => InsufficientShares {
            /// Shares the deposit would mint (base units).
            #[serde(with = "crate::amount")]
            shares: u128,
            /// The action's minimum (base units).
            #[serde(with = "crate::amount")]
            min_shares: u128,
        },
        /// The first deposit is too small to lock `MINIMUM_LIQUIDITY` shares.
        #[error("a first deposit must mint more than {minimum} shares (sqrt of the product of the amounts), got {shares}")]
        0x0b => InitialLiquidityTooLow {
            /// Shares the first deposit would mint (base units).
            #[serde(with = "crate::amount")]
            shares: u128,
            /// `MINIMUM_LIQUIDITY`: the shares that must exceed it.
            #[serde(with = "crate::amount")]
            minimum: u128,
        },
        /// The removal pays less of an asset than the action's minimum.
        #[error("removing would pay {amount} of asset {asset}, below the minimum {minimum}")]
        0x0c => InsufficientAmount {
            /// The asset concerned.
            asset: AssetId,
            /// Amount the removal would pay (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The action's minimum (base units).
            #[serde(with = "crate::amount")]
            minimum: u128,
        },
        /// The swap would take a whole reserve or more.
        #[error("cannot take {requested} of asset {asset} from a reserve of {reserve}")]
        0x0d => InsufficientLiquidity {
            /// The asset concerned.
            asset: AssetId,
            /// The pool's reserve of `asset` (base units).
            #[serde(with = "crate::amount")]
            reserve: u128,
            /// Amount the action would take (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
        },
        /// The pool has no liquidity yet.
        #[error("the pool of assets {asset_a} and {asset_b} holds no liquidity yet")]
        0x0e => EmptyPool {
            /// One asset of the pair (in events, the lower id).
            asset_a: AssetId,
            /// The other asset of the pair.
            asset_b: AssetId,
        },
        /// The swap input is too small to buy anything.
        #[error("selling {amount_in} of asset {asset_in} buys nothing of asset {asset_out}")]
        0x0f => ZeroOutput {
            /// Asset sold.
            asset_in: AssetId,
            /// Asset bought.
            asset_out: AssetId,
            /// Amount offered (base units).
            #[serde(with = "crate::amount")]
            amount_in: u128,
        },
    }
}

/// The pair in pool order (ascending ids).
pub fn sorted_pair(a: AssetId, b: AssetId) -> (AssetId, AssetId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The id of the pool of `a` and `b` (either order): the two ids in ascending
/// order, big-endian. `None` when `a == b`.
pub fn pool_id(a: AssetId, b: AssetId) -> Option<[u8; 16]> {
    if a == b {
        return None;
    }
    let (lo, hi) = sorted_pair(a, b);
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&lo.0.to_be_bytes());
    id[8..].copy_from_slice(&hi.0.to_be_bytes());
    Some(id)
}

/// The address holding a pool's assets: `Address::module("dex", pool_id)`.
pub fn pool_custody(pool_id: &[u8; 16]) -> Address {
    Address::module("dex", pool_id)
}

/// The liquidity-share asset of a pool: the id an asset created by the
/// pool's custody address with nonce 0 would get. The custody address never
/// sends transactions, so no bank creation can take it.
pub fn lp_asset_id(pool_id: &[u8; 16]) -> AssetId {
    AssetId::derive(pool_custody(pool_id).as_bytes(), 0)
}

/// The share asset's symbol when `CreatePool` names none: `LP` and the first
/// ten hex digits of the share asset's id (12 characters of `A-Z0-9`).
pub fn default_lp_symbol(pool_id: &[u8; 16]) -> Symbol {
    let id = lp_asset_id(pool_id).0;
    Symbol::new(&format!("LP{:010X}", id >> 24)).expect("LP and 10 hex digits is a valid symbol")
}

/// The symbol `CreatePool` registers for the share asset.
pub fn lp_symbol_of(pool_id: &[u8; 16], requested: Option<&Symbol>) -> Symbol {
    requested
        .cloned()
        .unwrap_or_else(|| default_lp_symbol(pool_id))
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &DexAction) -> u64 {
    match action {
        // Registers a symbol, like the bank's CreateAsset, and costs the same
        // so the symbol namespace is no cheaper to squat through pools.
        DexAction::CreatePool { .. } => 100,
        // Pool, share supply, 3 sender balances, 3 custody balances.
        DexAction::AddLiquidity { .. } => 8,
        // Pool, share supply, 3 sender balances, 2 custody balances.
        DexAction::RemoveLiquidity { .. } => 7,
        // Two sender balances, and per hop the pool and two custody balances.
        DexAction::SwapExactIn { path, .. } | DexAction::SwapExactOut { path, .. } => {
            2 + 3 * path.len().saturating_sub(1) as u64
        }
    }
}

fn zero(field: &str) -> DexError {
    DexError::ZeroAmount {
        field: Text::clipped(field),
    }
}

fn check_pair(a: AssetId, b: AssetId) -> Result<(), DexError> {
    if a == b {
        return Err(DexError::SameAsset { asset: a });
    }
    Ok(())
}

/// Checks a swap path: 2 to [`MAX_PATH_ASSETS`] assets, consecutive assets
/// different, no pool used twice.
pub fn check_path(path: &[AssetId]) -> Result<(), DexError> {
    if path.len() < 2 || path.len() > MAX_PATH_ASSETS {
        return Err(DexError::BadPathLength {
            len: path.len() as u64,
            max: MAX_PATH_ASSETS as u64,
        });
    }
    for (i, hop) in path.windows(2).enumerate() {
        check_pair(hop[0], hop[1])?;
        let pair = sorted_pair(hop[0], hop[1]);
        if path[..=i]
            .windows(2)
            .any(|earlier| sorted_pair(earlier[0], earlier[1]) == pair)
        {
            return Err(DexError::RepeatedPool {
                asset_a: pair.0,
                asset_b: pair.1,
            });
        }
    }
    Ok(())
}

/// Checks that hold regardless of state, with the typed reason. Execution
/// runs them too (a block may carry actions ingest never saw).
pub fn validate(action: &DexAction) -> Result<(), DexError> {
    match action {
        DexAction::CreatePool {
            asset_a, asset_b, ..
        } => check_pair(*asset_a, *asset_b),
        DexAction::AddLiquidity {
            asset_a,
            asset_b,
            max_amount_a,
            max_amount_b,
            ..
        } => {
            check_pair(*asset_a, *asset_b)?;
            if *max_amount_a == 0 {
                return Err(zero("max_amount_a"));
            }
            if *max_amount_b == 0 {
                return Err(zero("max_amount_b"));
            }
            Ok(())
        }
        DexAction::RemoveLiquidity {
            asset_a,
            asset_b,
            shares,
            ..
        } => {
            check_pair(*asset_a, *asset_b)?;
            if *shares == 0 {
                return Err(zero("shares"));
            }
            Ok(())
        }
        DexAction::SwapExactIn {
            path, amount_in, ..
        } => {
            check_path(path)?;
            if *amount_in == 0 {
                return Err(zero("amount_in"));
            }
            Ok(())
        }
        DexAction::SwapExactOut {
            path,
            amount_out,
            max_amount_in,
            ..
        } => {
            check_path(path)?;
            if *amount_out == 0 {
                return Err(zero("amount_out"));
            }
            if *max_amount_in == 0 {
                return Err(zero("max_amount_in"));
            }
            Ok(())
        }
    }
}

/// Checks that hold regardless of state (zero amounts, malformed routes);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &DexAction) -> Result<(), String> {
    validate(action).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn path(ids: &[u64]) -> Path {
        Path::new(ids.iter().map(|&i| AssetId(i)).collect()).unwrap()
    }

    #[test]
    fn pool_identity_is_order_free_and_distinct() {
        let (a, b, c) = (AssetId(3), AssetId(9), AssetId(4));
        assert_eq!(pool_id(a, b), pool_id(b, a));
        assert_ne!(pool_id(a, b), pool_id(a, c));
        assert_eq!(pool_id(a, a), None);
        let id = pool_id(a, b).unwrap();
        assert_eq!(&id[..8], &3u64.to_be_bytes());
        assert_ne!(lp_asset_id(&id), AssetId::NATIVE);
        let symbol = default_lp_symbol(&id);
        assert_eq!(symbol.as_str().len(), 12);
        assert!(symbol.as_str().starts_with("LP"));
        assert_ne!(symbol, default_lp_symbol(&pool_id(a, c).unwrap()));
    }

    #[test]
    fn paths_are_checked() {
        assert!(check_path(&path(&[1, 2])).is_ok());
        assert!(check_path(&path(&[1, 2, 3, 4, 5])).is_ok());
        assert_eq!(
            check_path(&path(&[1])),
            Err(DexError::BadPathLength { len: 1, max: 5 })
        );
        assert_eq!(
            check_path(&path(&[1, 1])),
            Err(DexError::SameAsset { asset: AssetId(1) })
        );
        assert_eq!(
            check_path(&path(&[1, 2, 1])),
            Err(DexError::RepeatedPool {
                asset_a: AssetId(1),
                asset_b: AssetId(2)
            })
        );
        assert_eq!(
            check_path(&path(&[1, 2, 3, 2])),
            Err(DexError::RepeatedPool {
                asset_a: AssetId(2),
                asset_b: AssetId(3)
            })
        );
        // A cycle through distinct pools is a valid route.
        assert!(check_path(&path(&[1, 2, 3, 1])).is_ok());
    }

    #[test]
    fn validation_refuses_zero_amounts_and_same_pairs() {
        let swap = DexAction::SwapExactIn {
            path: path(&[1, 2]),
            amount_in: 0,
            min_amount_out: 0,
            deadline_height: 9,
        };
        assert_eq!(
            check(&swap).unwrap_err(),
            "amount_in must be positive".to_string()
        );
        let add = DexAction::AddLiquidity {
            asset_a: AssetId(1),
            asset_b: AssetId(1),
            max_amount_a: 1,
            max_amount_b: 1,
            min_shares: 0,
            deadline_height: 0,
        };
        assert_eq!(
            validate(&add),
            Err(DexError::SameAsset { asset: AssetId(1) })
        );
    }

    #[test]
    fn actions_round_trip_in_codec_and_json() {
        let actions = [
            DexAction::CreatePool {
                asset_a: AssetId(1),
                asset_b: AssetId(2),
                lp_symbol: Some(Symbol::new("ETHUSDCLP").unwrap()),
            },
            DexAction::AddLiquidity {
                asset_a: AssetId(1),
                asset_b: AssetId(2),
                max_amount_a: u128::MAX,
                max_amount_b: 5,
                min_shares: 7,
                deadline_height: 11,
            },
            DexAction::RemoveLiquidity {
                asset_a: AssetId(2),
                asset_b: AssetId(1),
                shares: 3,
                min_amount_a: 1,
                min_amount_b: 2,
                deadline_height: 4,
            },
            DexAction::SwapExactOut {
                path: path(&[1, 2, 3]),
                amount_out: 10,
                max_amount_in: 20,
                deadline_height: 30,
            },
        ];
        for a in actions {
            let bytes = a.encode();
            assert_eq!(DexAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<DexAction>(&json).unwrap(), a);
        }
        // Inside a transaction action: {"type": "dex", "op": ...}.
        let action = crate::Action::Dex(DexAction::CreatePool {
            asset_a: AssetId(1),
            asset_b: AssetId(2),
            lp_symbol: None,
        });
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["type"], "dex");
        assert_eq!(json["op"], "create_pool");
        assert_eq!(
            serde_json::from_value::<crate::Action>(json).unwrap(),
            action
        );
        // Paths longer than the limit do not decode.
        let long: Vec<AssetId> = (0..6).map(AssetId).collect();
        let mut bytes = vec![0x04];
        bytes.extend_from_slice(&long.encode());
        assert!(DexAction::decode_cfg(bytes::Bytes::from(bytes), &()).is_err());
    }
}

//! The executor stage's second mix: AMM swaps spread over many pools, where
//! execution (pool decoding, the constant-product math, events) costs
//! several times a transfer. Setup is a few admin blocks on the ceilings'
//! in-memory chain; only the swap blocks are timed.

use lakh_types::codec::BoundedVec;
use lakh_types::limits::MAX_MULTI_TRANSFER_ENTRIES;
use lakh_types::modules::dex::DexAction;
use lakh_types::{Action, Address, AssetId, Symbol, TransferEntry};

/// Pools the swaps spread over: HUB against one token each.
pub const POOLS: usize = 100;
/// Each side of each pool, so a swap moves its price by about 10^-9.
const RESERVE: u128 = 1_000_000_000_000_000;
/// HUB each account receives: room for a thousand swaps.
const HUB_PER_ACCOUNT: u128 = 1_000 * SWAP_IN;
/// HUB sold by one swap.
const SWAP_IN: u128 = 1_000_000;

/// The assets of the swap mix, once set up.
pub struct SwapMix {
    hub: AssetId,
    tokens: Vec<AssetId>,
}

/// The admin's setup, block by block (each block's actions in nonce order).
pub struct SwapSetup {
    pub mix: SwapMix,
    pub blocks: Vec<Vec<Action>>,
}

impl SwapMix {
    /// What `admin`, whose next nonce is `first_nonce`, runs to create HUB
    /// and [`POOLS`] tokens, a funded pool for each, and hand every one of
    /// `accounts` HUB.
    pub fn setup(admin: &Address, first_nonce: u64, accounts: &[Address]) -> SwapSetup {
        let symbol = |s: String| Symbol::new(&s).expect("bench symbols are valid");
        let asset = |nonce: u64| AssetId::derive(admin.as_bytes(), first_nonce + nonce);
        let hub_supply = POOLS as u128 * RESERVE + accounts.len() as u128 * HUB_PER_ACCOUNT;
        let create = |name: String, supply: u128| Action::CreateAsset {
            symbol: symbol(name),
            decimals: 6,
            max_supply: None,
            initial_supply: supply,
        };
        let mut assets = vec![create("XHUB".into(), hub_supply)];
        assets.extend((0..POOLS).map(|k| create(format!("XT{k:02}"), RESERVE)));
        let mix = SwapMix {
            hub: asset(0),
            tokens: (1..=POOLS as u64).map(asset).collect(),
        };
        let mut pools = Vec::with_capacity(2 * POOLS);
        for &token in &mix.tokens {
            pools.push(Action::Dex(DexAction::CreatePool {
                asset_a: mix.hub,
                asset_b: token,
                lp_symbol: None,
            }));
            pools.push(Action::Dex(DexAction::AddLiquidity {
                asset_a: mix.hub,
                asset_b: token,
                max_amount_a: RESERVE,
                max_amount_b: RESERVE,
                min_shares: 0,
                deadline_height: u64::MAX,
            }));
        }
        let funding = accounts
            .iter()
            .filter(|a| *a != admin)
            .map(|&to| TransferEntry {
                to,
                asset: mix.hub,
                amount: HUB_PER_ACCOUNT,
            })
            .collect::<Vec<_>>()
            .chunks(MAX_MULTI_TRANSFER_ENTRIES)
            .map(|entries| Action::MultiTransfer {
                entries: entries.to_vec(),
            })
            .collect();
        SwapSetup {
            mix,
            blocks: vec![assets, pools, funding],
        }
    }

    /// A swap of HUB for the token of pool `pool` (taken modulo [`POOLS`]).
    pub fn swap(&self, pool: usize) -> Action {
        let token = self.tokens[pool % self.tokens.len()];
        Action::Dex(DexAction::SwapExactIn {
            path: BoundedVec::new(vec![self.hub, token]).expect("two assets"),
            amount_in: SWAP_IN,
            min_amount_out: 1,
            deadline_height: u64::MAX,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_funds_every_account_but_the_admin_once() {
        let admin = Address([1; 32]);
        let accounts: Vec<Address> = (0..600u32)
            .map(|i| {
                let mut a = [0u8; 32];
                a[..4].copy_from_slice(&i.to_le_bytes());
                Address(a)
            })
            .chain([admin])
            .collect();
        let setup = SwapMix::setup(&admin, 7, &accounts);
        assert_eq!(setup.blocks[0].len(), POOLS + 1);
        assert_eq!(setup.blocks[1].len(), 2 * POOLS);
        let funded: Vec<Address> = setup.blocks[2]
            .iter()
            .flat_map(|a| match a {
                Action::MultiTransfer { entries } => entries.iter().map(|e| e.to),
                other => panic!("funding is {other:?}"),
            })
            .collect();
        assert_eq!(funded.len(), 600);
        assert!(!funded.contains(&admin));
        assert_eq!(setup.mix.hub, AssetId::derive(admin.as_bytes(), 7));
        assert_ne!(setup.mix.swap(0), setup.mix.swap(1));
        assert_eq!(setup.mix.swap(3), setup.mix.swap(3 + POOLS));
    }
}

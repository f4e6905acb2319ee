//! What a transaction does. One variant per operation; each module of the
//! execution layer owns a range of tags.

use crate::modules::{
    book::BookAction, bridge::BridgeAction, channel::ChannelAction, cover::CoverAction,
    dex::DexAction, farm::FarmAction, lend::LendAction, nft::NftAction, oracle::OracleAction,
    shielded::ShieldedAction, stake::StakeAction, tag,
};
use crate::{Address, AssetId, Symbol, limits::MAX_MULTI_TRANSFER_ENTRIES};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{EncodeSize, Error as CodecError, FixedSize, RangeCfg, Read, Write};
use serde::{Deserialize, Serialize};

/// One leg of a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEntry {
    /// Account credited.
    pub to: Address,
    /// The asset moved.
    pub asset: AssetId,
    /// Amount moved (base units).
    #[serde(with = "crate::amount")]
    pub amount: u128,
}

impl Write for TransferEntry {
    fn write(&self, buf: &mut impl BufMut) {
        self.to.write(buf);
        self.asset.write(buf);
        self.amount.write(buf);
    }
}
impl FixedSize for TransferEntry {
    const SIZE: usize = Address::SIZE + AssetId::SIZE + u128::SIZE;
}
impl Read for TransferEntry {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(TransferEntry {
            to: Address::read_cfg(buf, &())?,
            asset: AssetId::read_cfg(buf, &())?,
            amount: u128::read_cfg(buf, &())?,
        })
    }
}

/// The operation a transaction performs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Move `amount` base units of `asset` from the sender to `to`.
    Transfer(TransferEntry),
    /// Several transfers from the sender, applied all-or-nothing.
    MultiTransfer {
        /// The legs, in order (at most `MAX_MULTI_TRANSFER_ENTRIES`).
        entries: Vec<TransferEntry>,
    },
    /// Create a new asset owned by the sender. `initial_supply` is minted to the sender.
    CreateAsset {
        /// Unique symbol for the asset.
        symbol: Symbol,
        /// Decimal places of one whole unit (at most `MAX_DECIMALS`).
        decimals: u8,
        /// Cap on total supply (base units); unlimited when absent.
        #[serde(with = "crate::amount::option", default)]
        max_supply: Option<u128>,
        /// Amount minted to the sender at creation (base units).
        #[serde(with = "crate::amount")]
        initial_supply: u128,
    },
    /// Issuer-only: create `amount` new units of `asset` for `to`.
    Mint {
        /// The asset to mint.
        asset: AssetId,
        /// Account credited.
        to: Address,
        /// Amount created (base units).
        #[serde(with = "crate::amount")]
        amount: u128,
    },
    /// AMM DEX (`modules::dex`).
    Dex(DexAction),
    /// Order book (`modules::book`).
    Book(BookAction),
    /// Price oracle (`modules::oracle`).
    Oracle(OracleAction),
    /// Lending markets (`modules::lend`); boxed, as are the other actions
    /// larger than a book order, so every transaction moves in fewer bytes.
    Lend(Box<LendAction>),
    /// Staking to validators (`modules::stake`).
    Stake(Box<StakeAction>),
    /// Yield farms (`modules::farm`).
    Farm(FarmAction),
    /// Insurance cover (`modules::cover`).
    Cover(Box<CoverAction>),
    /// Music NFTs (`modules::nft`).
    Nft(Box<NftAction>),
    /// Shielded pool (`modules::shielded`); boxed, being several times
    /// larger than any other action (a proof and two encrypted notes).
    Shielded(Box<ShieldedAction>),
    /// Payment channels (`modules::channel`); boxed, carrying co-signed states.
    Channel(Box<ChannelAction>),
    /// The Ethereum bridge (`modules::bridge`).
    Bridge(BridgeAction),
}

// Every queued, selected and executed transaction moves an `Action`; the
// large, rare module actions stay behind a box (224 bytes before).
const _: () = assert!(std::mem::size_of::<Action>() <= 96);

/// Runs `$body` with `$inner` bound to the module action inside `$action`
/// when it is a module action; evaluates to `$other` otherwise.
macro_rules! with_module_action {
    ($action:expr, $inner:ident => $body:expr, _ => $other:expr) => {
        match $action {
            Action::Dex($inner) => $body,
            Action::Book($inner) => $body,
            Action::Oracle($inner) => $body,
            Action::Lend($inner) => $body,
            Action::Stake($inner) => $body,
            Action::Farm($inner) => $body,
            Action::Cover($inner) => $body,
            Action::Nft($inner) => $body,
            Action::Shielded($inner) => $body,
            Action::Channel($inner) => $body,
            Action::Bridge($inner) => $body,
            _ => $other,
        }
    };
}

const TAG_TRANSFER: u8 = 0x01;
const TAG_MULTI_TRANSFER: u8 = 0x02;
const TAG_CREATE_ASSET: u8 = 0x03;
const TAG_MINT: u8 = 0x04;

impl Action {
    /// Short name for logs, metrics and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Transfer(_) => "transfer",
            Action::MultiTransfer { .. } => "multi_transfer",
            Action::CreateAsset { .. } => "create_asset",
            Action::Mint { .. } => "mint",
            Action::Dex(_) => "dex",
            Action::Book(_) => "book",
            Action::Oracle(_) => "oracle",
            Action::Lend(_) => "lend",
            Action::Stake(_) => "stake",
            Action::Farm(_) => "farm",
            Action::Cover(_) => "cover",
            Action::Nft(_) => "nft",
            Action::Shielded(_) => "shielded",
            Action::Channel(_) => "channel",
            Action::Bridge(_) => "bridge",
        }
    }
}

impl Write for Action {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Action::Transfer(entry) => {
                buf.put_u8(TAG_TRANSFER);
                entry.write(buf);
            }
            Action::MultiTransfer { entries } => {
                buf.put_u8(TAG_MULTI_TRANSFER);
                entries.write(buf);
            }
            Action::CreateAsset {
                symbol,
                decimals,
                max_supply,
                initial_supply,
            } => {
                buf.put_u8(TAG_CREATE_ASSET);
                symbol.write(buf);
                decimals.write(buf);
                max_supply.write(buf);
                initial_supply.write(buf);
            }
            Action::Mint { asset, to, amount } => {
                buf.put_u8(TAG_MINT);
                asset.write(buf);
                to.write(buf);
                amount.write(buf);
            }
            Action::Dex(a) => {
                buf.put_u8(tag::DEX);
                a.write(buf);
            }
            Action::Book(a) => {
                buf.put_u8(tag::BOOK);
                a.write(buf);
            }
            Action::Oracle(a) => {
                buf.put_u8(tag::ORACLE);
                a.write(buf);
            }
            Action::Lend(a) => {
                buf.put_u8(tag::LEND);
                a.write(buf);
            }
            Action::Stake(a) => {
                buf.put_u8(tag::STAKE);
                a.write(buf);
            }
            Action::Farm(a) => {
                buf.put_u8(tag::FARM);
                a.write(buf);
            }
            Action::Cover(a) => {
                buf.put_u8(tag::COVER);
                a.write(buf);
            }
            Action::Nft(a) => {
                buf.put_u8(tag::NFT);
                a.write(buf);
            }
            Action::Shielded(a) => {
                buf.put_u8(tag::SHIELDED);
                a.write(buf);
            }
            Action::Channel(a) => {
                buf.put_u8(tag::CHANNEL);
                a.write(buf);
            }
            Action::Bridge(a) => {
                buf.put_u8(tag::BRIDGE);
                a.write(buf);
            }
        }
    }
}

impl EncodeSize for Action {
    fn encode_size(&self) -> usize {
        1 + match self {
            Action::Transfer(_) => TransferEntry::SIZE,
            Action::MultiTransfer { entries } => entries.encode_size(),
            Action::CreateAsset {
                symbol, max_supply, ..
            } => symbol.encode_size() + 1 + max_supply.encode_size() + u128::SIZE,
            Action::Mint { .. } => AssetId::SIZE + Address::SIZE + u128::SIZE,
            other => with_module_action!(other, a => a.encode_size(), _ => unreachable!()),
        }
    }
}

impl Read for Action {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let tag = u8::read_cfg(buf, &())?;
        Ok(match tag {
            TAG_TRANSFER => Action::Transfer(TransferEntry::read_cfg(buf, &())?),
            TAG_MULTI_TRANSFER => {
                let range = RangeCfg::new(1..=MAX_MULTI_TRANSFER_ENTRIES);
                Action::MultiTransfer {
                    entries: Vec::<TransferEntry>::read_cfg(buf, &(range, ()))?,
                }
            }
            TAG_CREATE_ASSET => Action::CreateAsset {
                symbol: Symbol::read_cfg(buf, &())?,
                decimals: u8::read_cfg(buf, &())?,
                max_supply: Option::<u128>::read_cfg(buf, &())?,
                initial_supply: u128::read_cfg(buf, &())?,
            },
            TAG_MINT => Action::Mint {
                asset: AssetId::read_cfg(buf, &())?,
                to: Address::read_cfg(buf, &())?,
                amount: u128::read_cfg(buf, &())?,
            },
            tag::DEX => Action::Dex(DexAction::read_cfg(buf, &())?),
            tag::BOOK => Action::Book(BookAction::read_cfg(buf, &())?),
            tag::ORACLE => Action::Oracle(OracleAction::read_cfg(buf, &())?),
            tag::LEND => Action::Lend(Box::new(LendAction::read_cfg(buf, &())?)),
            tag::STAKE => Action::Stake(Box::new(StakeAction::read_cfg(buf, &())?)),
            tag::FARM => Action::Farm(FarmAction::read_cfg(buf, &())?),
            tag::COVER => Action::Cover(Box::new(CoverAction::read_cfg(buf, &())?)),
            tag::NFT => Action::Nft(Box::new(NftAction::read_cfg(buf, &())?)),
            tag::SHIELDED => Action::Shielded(Box::new(ShieldedAction::read_cfg(buf, &())?)),
            tag::CHANNEL => Action::Channel(Box::new(ChannelAction::read_cfg(buf, &())?)),
            tag::BRIDGE => Action::Bridge(BridgeAction::read_cfg(buf, &())?),
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

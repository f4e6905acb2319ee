//! The outcome of an included transaction: receipts and events.

use crate::modules::{
    book::{BookError, BookEvent},
    bridge::{BridgeError, BridgeEvent},
    channel::{ChannelError, ChannelEvent},
    cover::{CoverError, CoverEvent},
    dex::{DexError, DexEvent},
    farm::{FarmError, FarmEvent},
    lend::{LendError, LendEvent},
    nft::{NftError, NftEvent},
    oracle::{OracleError, OracleEvent},
    shielded::{ShieldedError, ShieldedEvent},
    stake::{StakeError, StakeEvent},
    tag,
};
use crate::{Address, AssetId, Symbol, TxId};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{
    EncodeSize, Error as CodecError, FixedSize, RangeCfg, Read, ReadExt, Write,
};
use serde::{Deserialize, Serialize};

/// Why an included transaction failed. Its nonce and fee are still consumed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FailureReason {
    /// The sender holds less of an asset than the action moves.
    #[error("insufficient balance of asset {asset}: needed {needed}, available {available}")]
    InsufficientBalance {
        /// The asset short.
        asset: AssetId,
        /// Amount the action needs (base units).
        #[serde(with = "crate::amount")]
        needed: u128,
        /// Sender's balance (base units).
        #[serde(with = "crate::amount")]
        available: u128,
    },
    /// No asset has this id.
    #[error("unknown asset {asset}")]
    UnknownAsset {
        /// The id named by the action.
        asset: AssetId,
    },
    /// A mint by someone other than the asset's issuer.
    #[error("only the issuer of asset {asset} may mint it")]
    NotIssuer {
        /// The asset to mint.
        asset: AssetId,
    },
    /// A mint would take the supply above the asset's cap.
    #[error("minting {amount} of asset {asset} would exceed its max supply {max_supply}")]
    SupplyCapExceeded {
        /// The asset to mint.
        asset: AssetId,
        /// Amount to mint (base units).
        #[serde(with = "crate::amount")]
        amount: u128,
        /// The asset's supply cap (base units).
        #[serde(with = "crate::amount")]
        max_supply: u128,
    },
    /// Another asset already has this symbol.
    #[error("symbol {symbol} is already taken")]
    SymbolTaken {
        /// The symbol asked for.
        symbol: Symbol,
    },
    /// A balance, supply or module quantity would leave its integer range.
    #[error("arithmetic overflow")]
    Overflow,
    /// The action is not valid in the current state.
    #[error("invalid action: {detail}")]
    Invalid {
        /// Why, for people (at most 256 bytes are encoded).
        detail: String,
    },
    /// Only the chain admin (named at genesis) may do this.
    #[error("only the chain admin may do this; {sender} is not the admin")]
    NotAdmin {
        /// The account that sent the action.
        sender: Address,
    },
    /// A `dex` action failed.
    #[error("dex: {0}")]
    Dex(DexError),
    /// A `book` action failed.
    #[error("order book: {0}")]
    Book(BookError),
    /// An `oracle` action failed.
    #[error("oracle: {0}")]
    Oracle(OracleError),
    /// A `lend` action failed.
    #[error("lending: {0}")]
    Lend(LendError),
    /// A `stake` action failed.
    #[error("staking: {0}")]
    Stake(StakeError),
    /// A `farm` action failed.
    #[error("farm: {0}")]
    Farm(FarmError),
    /// A `cover` action failed.
    #[error("cover: {0}")]
    Cover(CoverError),
    /// An `nft` action failed.
    #[error("nft: {0}")]
    Nft(NftError),
    /// A `shielded` action failed.
    #[error("shielded: {0}")]
    Shielded(ShieldedError),
    /// A `channel` action failed.
    #[error("channel: {0}")]
    Channel(ChannelError),
    /// A `bridge` action failed.
    #[error("bridge: {0}")]
    Bridge(BridgeError),
}

/// A module's error is a failure reason of its own variant.
macro_rules! failure_from {
    ($($error:ident => $variant:ident),* $(,)?) => {
        $(impl From<$error> for FailureReason {
            fn from(e: $error) -> Self {
                FailureReason::$variant(e)
            }
        })*
    };
}
failure_from!(
    DexError => Dex,
    BookError => Book,
    OracleError => Oracle,
    LendError => Lend,
    StakeError => Stake,
    FarmError => Farm,
    CoverError => Cover,
    NftError => Nft,
    ShieldedError => Shielded,
    ChannelError => Channel,
    BridgeError => Bridge,
);

/// Writes, sizes and reads the per-module variants of an enum whose other
/// variants are handled by hand.
macro_rules! module_variants {
    (write $ty:ident, $value:expr, $buf:expr, $rest:expr) => {
        match $value {
            $ty::Dex(x) => {
                $buf.put_u8(tag::DEX);
                x.write($buf)
            }
            $ty::Book(x) => {
                $buf.put_u8(tag::BOOK);
                x.write($buf)
            }
            $ty::Oracle(x) => {
                $buf.put_u8(tag::ORACLE);
                x.write($buf)
            }
            $ty::Lend(x) => {
                $buf.put_u8(tag::LEND);
                x.write($buf)
            }
            $ty::Stake(x) => {
                $buf.put_u8(tag::STAKE);
                x.write($buf)
            }
            $ty::Farm(x) => {
                $buf.put_u8(tag::FARM);
                x.write($buf)
            }
            $ty::Cover(x) => {
                $buf.put_u8(tag::COVER);
                x.write($buf)
            }
            $ty::Nft(x) => {
                $buf.put_u8(tag::NFT);
                x.write($buf)
            }
            $ty::Shielded(x) => {
                $buf.put_u8(tag::SHIELDED);
                x.write($buf)
            }
            $ty::Channel(x) => {
                $buf.put_u8(tag::CHANNEL);
                x.write($buf)
            }
            $ty::Bridge(x) => {
                $buf.put_u8(tag::BRIDGE);
                x.write($buf)
            }
            #[allow(unreachable_patterns)]
            _ => $rest,
        }
    };
    (size $ty:ident, $value:expr, $rest:expr) => {
        match $value {
            $ty::Dex(x) => 1 + x.encode_size(),
            $ty::Book(x) => 1 + x.encode_size(),
            $ty::Oracle(x) => 1 + x.encode_size(),
            $ty::Lend(x) => 1 + x.encode_size(),
            $ty::Stake(x) => 1 + x.encode_size(),
            $ty::Farm(x) => 1 + x.encode_size(),
            $ty::Cover(x) => 1 + x.encode_size(),
            $ty::Nft(x) => 1 + x.encode_size(),
            $ty::Shielded(x) => 1 + x.encode_size(),
            $ty::Channel(x) => 1 + x.encode_size(),
            $ty::Bridge(x) => 1 + x.encode_size(),
            #[allow(unreachable_patterns)]
            _ => $rest,
        }
    };
    (read $ty:ident, $tag:expr, $buf:expr, [$dex:ty, $book:ty, $oracle:ty, $lend:ty, $stake:ty, $farm:ty, $cover:ty, $nft:ty, $shielded:ty, $channel:ty, $bridge:ty]) => {
        match $tag {
            tag::DEX => Some($ty::Dex(<$dex>::read($buf)?)),
            tag::BOOK => Some($ty::Book(<$book>::read($buf)?)),
            tag::ORACLE => Some($ty::Oracle(<$oracle>::read($buf)?)),
            tag::LEND => Some($ty::Lend(<$lend>::read($buf)?)),
            tag::STAKE => Some($ty::Stake(<$stake>::read($buf)?)),
            tag::FARM => Some($ty::Farm(<$farm>::read($buf)?)),
            tag::COVER => Some($ty::Cover(<$cover>::read($buf)?)),
            tag::NFT => Some($ty::Nft(<$nft>::read($buf)?)),
            tag::SHIELDED => Some($ty::Shielded(<$shielded>::read($buf)?)),
            tag::CHANNEL => Some($ty::Channel(<$channel>::read($buf)?)),
            tag::BRIDGE => Some($ty::Bridge(<$bridge>::read($buf)?)),
            _ => None,
        }
    };
}

/// Something a transaction did, recorded in its receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Base units moved between two accounts (module custody accounts included).
    Transfer {
        /// The asset moved.
        asset: AssetId,
        /// Account debited.
        from: Address,
        /// Account credited.
        to: Address,
        /// Amount moved (base units).
        #[serde(with = "crate::amount")]
        amount: u128,
    },
    /// A new asset was registered.
    AssetCreated {
        /// Id given to the asset.
        asset: AssetId,
        /// Its unique symbol.
        symbol: Symbol,
        /// The account allowed to mint it.
        issuer: Address,
        /// Decimal places of one whole unit (at most `MAX_DECIMALS`).
        decimals: u8,
    },
    /// New base units created and credited.
    Minted {
        /// The asset minted.
        asset: AssetId,
        /// Account credited.
        to: Address,
        /// Amount created (base units).
        #[serde(with = "crate::amount")]
        amount: u128,
    },
    /// Base units destroyed (a module burning shares it issued).
    Burned {
        /// The asset burned.
        asset: AssetId,
        /// Account debited.
        from: Address,
        /// Amount destroyed (base units).
        #[serde(with = "crate::amount")]
        amount: u128,
    },
    /// Something a `dex` action did.
    Dex(DexEvent),
    /// Something a `book` action did.
    Book(BookEvent),
    /// Something an `oracle` action did.
    Oracle(OracleEvent),
    /// Something a `lend` action did.
    Lend(LendEvent),
    /// Something a `stake` action did.
    Stake(StakeEvent),
    /// Something a `farm` action did.
    Farm(FarmEvent),
    /// Something a `cover` action did.
    Cover(CoverEvent),
    /// Something an `nft` action did.
    Nft(NftEvent),
    /// Something a `shielded` action did.
    Shielded(ShieldedEvent),
    /// Something a `channel` action did.
    Channel(ChannelEvent),
    /// Something the bridge did (a deposit, a withdrawal).
    Bridge(BridgeEvent),
}

/// Success or the failure reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// The action was applied; its events are in the receipt.
    Success,
    /// The action had no effect beyond the nonce and the fee.
    Failed {
        /// Why it failed.
        error: FailureReason,
    },
}

impl TxStatus {
    /// True for [`TxStatus::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, TxStatus::Success)
    }
}

/// The stored outcome of one included transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Id of the transaction (hash of its signed encoding).
    pub tx_id: TxId,
    /// Account that signed it.
    pub sender: Address,
    /// The sender's nonce it consumed.
    pub nonce: u64,
    /// Height of the finalized block that includes the transaction.
    pub height: u64,
    /// Position within that block.
    pub index: u32,
    /// Native base units charged (paid to the block's proposer).
    #[serde(with = "crate::amount")]
    pub fee_paid: u128,
    /// Whether the action was applied.
    pub status: TxStatus,
    /// What the action did, in order (empty when it failed; decoding accepts at most 1024).
    pub events: Vec<Event>,
}

impl Receipt {
    /// The accounts this transaction concerns, sorted and without repeats:
    /// its sender and every account an event names (balances moved, an
    /// asset's issuer, a maker filled, an NFT's owners, module custody
    /// accounts). A failed transaction concerns only its sender.
    pub fn accounts(&self) -> Vec<Address> {
        let mut out = Vec::new();
        self.accounts_into(&mut out);
        out
    }

    /// [`Self::accounts`] into `out` (cleared first), so a caller going
    /// through a block's receipts reuses one buffer.
    pub fn accounts_into(&self, out: &mut Vec<Address>) {
        out.clear();
        out.push(self.sender);
        for event in &self.events {
            match event {
                // A transfer is most receipts' only event: no list for it.
                Event::Transfer { from, to, .. } => out.extend([*from, *to]),
                other => out.extend(other.accounts()),
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

impl Event {
    /// The accounts the event names, in field order.
    pub fn accounts(&self) -> Vec<Address> {
        match self {
            Event::Transfer { from, to, .. } => vec![*from, *to],
            Event::AssetCreated { issuer, .. } => vec![*issuer],
            Event::Minted { to, .. } => vec![*to],
            Event::Burned { from, .. } => vec![*from],
            Event::Dex(e) => e.addresses(),
            Event::Book(e) => e.addresses(),
            Event::Oracle(e) => e.addresses(),
            Event::Lend(e) => e.addresses(),
            Event::Stake(e) => e.addresses(),
            Event::Farm(e) => e.addresses(),
            Event::Cover(e) => e.addresses(),
            Event::Nft(e) => e.addresses(),
            Event::Shielded(e) => e.addresses(),
            Event::Channel(e) => e.addresses(),
            Event::Bridge(e) => e.addresses(),
        }
    }
}

/// Most events a receipt holds.
pub const MAX_EVENTS: usize = 1024;
const MAX_DETAIL: usize = 256;

/// Longest prefix of `s` within `MAX_DETAIL` bytes that ends on a character boundary.
fn clipped(s: &str) -> &str {
    let mut end = s.len().min(MAX_DETAIL);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn write_str(s: &str, buf: &mut impl BufMut) {
    let bytes = clipped(s).as_bytes();
    bytes.len().write(buf);
    buf.put_slice(bytes);
}
fn str_size(s: &str) -> usize {
    let n = clipped(s).len();
    n.encode_size() + n
}
fn read_str(buf: &mut impl Buf) -> Result<String, CodecError> {
    let len = usize::read_cfg(buf, &RangeCfg::new(..=MAX_DETAIL))?;
    if buf.remaining() < len {
        return Err(CodecError::EndOfBuffer);
    }
    let mut v = vec![0u8; len];
    buf.copy_to_slice(&mut v);
    String::from_utf8(v).map_err(|_| CodecError::Invalid("string", "not utf-8"))
}

impl Write for FailureReason {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            FailureReason::InsufficientBalance {
                asset,
                needed,
                available,
            } => {
                buf.put_u8(1);
                asset.write(buf);
                needed.write(buf);
                available.write(buf);
            }
            FailureReason::UnknownAsset { asset } => {
                buf.put_u8(2);
                asset.write(buf);
            }
            FailureReason::NotIssuer { asset } => {
                buf.put_u8(3);
                asset.write(buf);
            }
            FailureReason::SupplyCapExceeded {
                asset,
                amount,
                max_supply,
            } => {
                buf.put_u8(4);
                asset.write(buf);
                amount.write(buf);
                max_supply.write(buf);
            }
            FailureReason::SymbolTaken { symbol } => {
                buf.put_u8(5);
                symbol.write(buf);
            }
            FailureReason::Overflow => buf.put_u8(6),
            FailureReason::Invalid { detail } => {
                buf.put_u8(7);
                write_str(detail, buf);
            }
            FailureReason::NotAdmin { sender } => {
                buf.put_u8(8);
                sender.write(buf);
            }
            other => module_variants!(write FailureReason, other, buf, unreachable!()),
        }
    }
}
impl EncodeSize for FailureReason {
    fn encode_size(&self) -> usize {
        1 + match self {
            FailureReason::InsufficientBalance { .. } => AssetId::SIZE + 32,
            FailureReason::UnknownAsset { .. } | FailureReason::NotIssuer { .. } => AssetId::SIZE,
            FailureReason::SupplyCapExceeded { .. } => AssetId::SIZE + 32,
            FailureReason::SymbolTaken { symbol } => symbol.encode_size(),
            FailureReason::Overflow => 0,
            FailureReason::Invalid { detail } => str_size(detail),
            FailureReason::NotAdmin { .. } => Address::SIZE,
            other => return module_variants!(size FailureReason, other, unreachable!()),
        }
    }
}
impl Read for FailureReason {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            1 => FailureReason::InsufficientBalance {
                asset: AssetId::read(buf)?,
                needed: u128::read(buf)?,
                available: u128::read(buf)?,
            },
            2 => FailureReason::UnknownAsset {
                asset: AssetId::read(buf)?,
            },
            3 => FailureReason::NotIssuer {
                asset: AssetId::read(buf)?,
            },
            4 => FailureReason::SupplyCapExceeded {
                asset: AssetId::read(buf)?,
                amount: u128::read(buf)?,
                max_supply: u128::read(buf)?,
            },
            5 => FailureReason::SymbolTaken {
                symbol: Symbol::read(buf)?,
            },
            6 => FailureReason::Overflow,
            7 => FailureReason::Invalid {
                detail: read_str(buf)?,
            },
            8 => FailureReason::NotAdmin {
                sender: Address::read(buf)?,
            },
            t => module_variants!(read FailureReason, t, buf,
                [DexError, BookError, OracleError, LendError, StakeError, FarmError, CoverError, NftError, ShieldedError, ChannelError, BridgeError])
            .ok_or(CodecError::InvalidEnum(t))?,
        })
    }
}

impl Write for Event {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Event::Transfer {
                asset,
                from,
                to,
                amount,
            } => {
                buf.put_u8(1);
                asset.write(buf);
                from.write(buf);
                to.write(buf);
                amount.write(buf);
            }
            Event::AssetCreated {
                asset,
                symbol,
                issuer,
                decimals,
            } => {
                buf.put_u8(2);
                asset.write(buf);
                symbol.write(buf);
                issuer.write(buf);
                decimals.write(buf);
            }
            Event::Minted { asset, to, amount } => {
                buf.put_u8(3);
                asset.write(buf);
                to.write(buf);
                amount.write(buf);
            }
            Event::Burned {
                asset,
                from,
                amount,
            } => {
                buf.put_u8(4);
                asset.write(buf);
                from.write(buf);
                amount.write(buf);
            }
            other => module_variants!(write Event, other, buf, unreachable!()),
        }
    }
}
impl EncodeSize for Event {
    fn encode_size(&self) -> usize {
        1 + match self {
            Event::Transfer { .. } => AssetId::SIZE + 64 + 16,
            Event::AssetCreated { symbol, .. } => AssetId::SIZE + symbol.encode_size() + 32 + 1,
            Event::Minted { .. } | Event::Burned { .. } => AssetId::SIZE + 32 + 16,
            other => return module_variants!(size Event, other, unreachable!()),
        }
    }
}
impl Read for Event {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            1 => Event::Transfer {
                asset: AssetId::read(buf)?,
                from: Address::read(buf)?,
                to: Address::read(buf)?,
                amount: u128::read(buf)?,
            },
            2 => Event::AssetCreated {
                asset: AssetId::read(buf)?,
                symbol: Symbol::read(buf)?,
                issuer: Address::read(buf)?,
                decimals: u8::read(buf)?,
            },
            3 => Event::Minted {
                asset: AssetId::read(buf)?,
                to: Address::read(buf)?,
                amount: u128::read(buf)?,
            },
            4 => Event::Burned {
                asset: AssetId::read(buf)?,
                from: Address::read(buf)?,
                amount: u128::read(buf)?,
            },
            t => module_variants!(read Event, t, buf,
                [DexEvent, BookEvent, OracleEvent, LendEvent, StakeEvent, FarmEvent, CoverEvent, NftEvent, ShieldedEvent, ChannelEvent, BridgeEvent])
            .ok_or(CodecError::InvalidEnum(t))?,
        })
    }
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx_id.write(buf);
        self.sender.write(buf);
        self.nonce.write(buf);
        self.height.write(buf);
        self.index.write(buf);
        self.fee_paid.write(buf);
        match &self.status {
            TxStatus::Success => buf.put_u8(0),
            TxStatus::Failed { error } => {
                buf.put_u8(1);
                error.write(buf);
            }
        }
        self.events.write(buf);
    }
}
impl EncodeSize for Receipt {
    fn encode_size(&self) -> usize {
        32 + 32
            + 8
            + 8
            + 4
            + 16
            + 1
            + match &self.status {
                TxStatus::Success => 0,
                TxStatus::Failed { error } => error.encode_size(),
            }
            + self.events.encode_size()
    }
}
impl Read for Receipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Receipt {
            tx_id: TxId::read(buf)?,
            sender: Address::read(buf)?,
            nonce: u64::read(buf)?,
            height: u64::read(buf)?,
            index: u32::read(buf)?,
            fee_paid: u128::read(buf)?,
            status: match u8::read(buf)? {
                0 => TxStatus::Success,
                1 => TxStatus::Failed {
                    error: FailureReason::read(buf)?,
                },
                t => return Err(CodecError::InvalidEnum(t)),
            },
            events: Vec::<Event>::read_cfg(buf, &(RangeCfg::new(..=MAX_EVENTS), ()))?,
        })
    }
}

//! The DeFi modules' actions, events and failure reasons. Each module owns one
//! file here (its wire types) and one folder in the execution layer (its
//! rules); [`crate::Action`], [`crate::Event`] and [`crate::FailureReason`]
//! carry them under one tag per module.

pub mod book;
pub mod bridge;
pub mod channel;
pub mod cover;
pub mod dex;
pub mod farm;
pub mod lend;
pub mod nft;
pub mod oracle;
pub mod shielded;
pub mod stake;

/// Wire tag of each module inside `Action`, `Event` and `FailureReason`.
pub mod tag {
    /// AMM DEX.
    pub const DEX: u8 = 0x10;
    /// Order book.
    pub const BOOK: u8 = 0x11;
    /// Price oracle.
    pub const ORACLE: u8 = 0x12;
    /// Lending markets.
    pub const LEND: u8 = 0x13;
    /// Staking to validators.
    pub const STAKE: u8 = 0x14;
    /// Yield farms.
    pub const FARM: u8 = 0x15;
    /// Insurance cover.
    pub const COVER: u8 = 0x16;
    /// Music NFTs.
    pub const NFT: u8 = 0x17;
    /// Shielded pool.
    pub const SHIELDED: u8 = 0x18;
    /// Payment channels.
    pub const CHANNEL: u8 = 0x19;
    /// The Ethereum bridge.
    pub const BRIDGE: u8 = 0x1a;
}

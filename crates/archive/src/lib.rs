//! What a node keeps of finalized blocks besides the blocks themselves: each
//! transaction's receipt and the index by id and height ([`index`]), each
//! account's transactions, indexed behind the chain ([`accounts`]), and the
//! registry of assets known to exist, fed only by `AssetCreated` events
//! ([`assets`]).

pub mod accounts;
pub mod assets;
pub mod index;

pub use accounts::{AccountFeed, AccountIndex};
pub use assets::{AssetRegistry, created_assets};
pub use index::{
    AccountPage, BlockRecord, GENERATION_TXS, Indexer, Retention, TxRecord, archive_config,
};

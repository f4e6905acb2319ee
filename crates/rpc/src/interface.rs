//! The JSON-RPC interface, defined once: jsonrpsee generates from `LakhApi`
//! the server's method table ([`LakhApiServer`], implemented in
//! [`crate::server`]) and a client ([`LakhApiClient`], wrapped by
//! [`crate::LakhClient`]). Every method is in the `lakh_` namespace
//! (`lakh_chainId`, `lakh_submitTransaction`, ...).

use crate::params::{
    AddressParam, AssetParam, CursorParam, HashParam, HeightParam, LimitParam, TxIdParam,
    TxListParam, TxParam,
};
use crate::types::{
    AccountInfo, AccountTxsPage, AssetInfoJson, BlockInfo, FinalityInfo, HeadInfo, SubmitOutcome,
    TxStatusInfo,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use lakh_types::TxId;
use schemars::{Schema, SchemaGenerator};

/// Emits the trait for jsonrpsee's `#[rpc]` exactly as written, and
/// [`declared_methods`]: the same methods as data (names, docs, parameters
/// and their schemas), from which the server's parameter check and its
/// OpenRPC document ([`crate::discover`]) are built.
macro_rules! lakh_api {
    ($($item:tt)*) => {
        $($item)*
        lakh_api_decls!($($item)*);
    };
}

/// Skips the trait's attributes and declares its methods.
macro_rules! lakh_api_decls {
    (#[$($attr:tt)*] $($rest:tt)*) => {
        lakh_api_decls!($($rest)*);
    };
    (pub trait LakhApi { $($body:tt)* }) => {
        /// Every method of [`LakhApi`] as declared there, in order.
        pub(crate) fn declared_methods() -> Vec<MethodDecl> {
            declare_methods!([] $($body)*)
        }
    };
}

/// Munches method declarations into a `vec!` of [`MethodDecl`].
macro_rules! declare_methods {
    ([$($done:expr),*]) => { vec![$($done),*] };
    (
        [$($done:expr),*]
        $(#[doc = $doc:literal])*
        #[method(name = $name:literal)]
        $(async)? fn $fn:ident ($($params:tt)*) -> RpcResult<$ret:ty>;
        $($rest:tt)*
    ) => {
        declare_methods!([$($done,)* MethodDecl {
            name: concat!("lakh_", $name),
            doc: &[$($doc),*],
            params: declare_params!($($params)*),
            result: |g: &mut SchemaGenerator| g.subschema_for::<$ret>(),
        }] $($rest)*)
    };
    (
        [$($done:expr),*]
        $(#[doc = $doc:literal])*
        #[subscription(
            name = $name:literal => $notification:literal,
            unsubscribe = $unsubscribe:literal,
            item = $item:ty $(,)?
        )]
        async fn $fn:ident (&self) -> SubscriptionResult;
        $($rest:tt)*
    ) => {
        declare_methods!([$($done,)* MethodDecl {
            name: concat!("lakh_", $name),
            doc: &[$($doc),*],
            params: Vec::new(),
            result: |g: &mut SchemaGenerator| g.subschema_for::<$item>(),
        }, MethodDecl {
            name: concat!("lakh_", $unsubscribe),
            doc: &[concat!(" Ends a `lakh_", $name, "` subscription.")],
            params: vec![ParamDecl {
                name: "subscription",
                required: true,
                schema: |g: &mut SchemaGenerator| g.subschema_for::<String>(),
            }],
            result: |g: &mut SchemaGenerator| g.subschema_for::<bool>(),
        }] $($rest)*)
    };
}

/// Munches a parameter list into a `vec!` of [`ParamDecl`]; a parameter
/// declared `Option<_>` is optional.
macro_rules! declare_params {
    (&self $(,)?) => { Vec::new() };
    (&self, $($rest:tt)*) => { declare_params!(@ [] $($rest)*) };
    (@ [$($done:expr),*]) => { vec![$($done),*] };
    (@ [$($done:expr),*] $param:ident : Option<$ty:ty> $(, $($rest:tt)*)?) => {
        declare_params!(@ [$($done,)* ParamDecl {
            name: stringify!($param),
            required: false,
            schema: |g: &mut SchemaGenerator| g.subschema_for::<$ty>(),
        }] $($($rest)*)?)
    };
    (@ [$($done:expr),*] $param:ident : $ty:ty $(, $($rest:tt)*)?) => {
        declare_params!(@ [$($done,)* ParamDecl {
            name: stringify!($param),
            required: true,
            schema: |g: &mut SchemaGenerator| g.subschema_for::<$ty>(),
        }] $($($rest)*)?)
    };
}

/// One method as [`LakhApi`] declares it.
pub(crate) struct MethodDecl {
    /// Its full name (`lakh_getAccount`).
    pub name: &'static str,
    /// Its doc comment, one entry per line.
    pub doc: &'static [&'static str],
    pub params: Vec<ParamDecl>,
    /// The schema of its answer (of each notification, for a subscription).
    pub result: fn(&mut SchemaGenerator) -> Schema,
}

/// One parameter of a [`MethodDecl`]: optional when declared as `Option<_>`.
pub(crate) struct ParamDecl {
    pub name: &'static str,
    pub required: bool,
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

lakh_api! {
/// The methods a lakh node answers over JSON-RPC. Parameters may be given by
/// position or by name; [`crate::server`] refuses unknown names and extra
/// values.
#[rpc(server, client, namespace = "lakh")]
pub trait LakhApi {
    /// The chain id transactions must carry.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<u64>;

    /// Submits one signed transaction; a refusal is error
    /// [`crate::codes::TX_REFUSED`] with the refusal's code in `data.code`.
    #[method(name = "submitTransaction")]
    async fn submit_transaction(&self, tx: TxParam) -> RpcResult<TxId>;

    /// Submits many signed transactions (at most
    /// [`crate::RpcConfig::max_submit_txs`]); one outcome per transaction,
    /// a refusal carrying its stable code. A node that answers with the wrong
    /// count is error [`crate::codes::NODE_ERROR`].
    #[method(name = "submitTransactions")]
    async fn submit_transactions(&self, txs: TxListParam) -> RpcResult<Vec<SubmitOutcome>>;

    /// Where a transaction is in its life.
    #[method(name = "getTransaction")]
    async fn get_transaction(&self, id: TxIdParam) -> RpcResult<TxStatusInfo>;

    /// An account's committed state; with `prove`, inclusion proofs against
    /// the latest finalized state root. Error [`crate::codes::NODE_ERROR`]
    /// when the node has no state to read yet.
    #[method(name = "getAccount")]
    async fn get_account(
        &self,
        address: AddressParam,
        prove: Option<bool>,
    ) -> RpcResult<AccountInfo>;

    /// An account's finalized transactions (sent, or touching it), newest
    /// first: at most `limit` (default 25, at most
    /// [`crate::server::MAX_ACCOUNT_TXS_PAGE`]) with ordinals below `cursor`
    /// (the `next_cursor` of the previous page). Error
    /// [`crate::codes::NODE_ERROR`] when the node keeps no account index.
    #[method(name = "getAccountTransactions")]
    async fn get_account_transactions(
        &self,
        address: AddressParam,
        cursor: Option<CursorParam>,
        limit: Option<LimitParam>,
    ) -> RpcResult<AccountTxsPage>;

    /// The finalized block at `height`; null above the head.
    #[method(name = "getBlockByHeight")]
    async fn get_block_by_height(&self, height: HeightParam) -> RpcResult<Option<BlockInfo>>;

    /// The finalized block with this hash; null when none is known.
    #[method(name = "getBlockByHash")]
    async fn get_block_by_hash(&self, hash: HashParam) -> RpcResult<Option<BlockInfo>>;

    /// The certificate that finalized the block at `height`: its committee's
    /// aggregate signature, checked by [`crate::finality::verify_finality`].
    /// Null when no certificate names that block (not finalized yet, or
    /// finalized only through a descendant: ask for a later height).
    #[method(name = "getFinality")]
    async fn get_finality(&self, height: HeightParam) -> RpcResult<Option<FinalityInfo>>;

    /// The latest finalized block and the base fee of the next one.
    #[method(name = "head")]
    async fn head(&self) -> RpcResult<HeadInfo>;

    /// An asset by id (JSON number) or symbol (JSON string).
    #[method(name = "getAsset")]
    async fn get_asset(&self, asset: AssetParam) -> RpcResult<Option<AssetInfoJson>>;

    /// A module's read-only answer from the latest finalized state (see
    /// docs/MODULES.md); no answer is error [`crate::codes::QUERY_FAILED`]
    /// with the reason's code in `data.code`.
    #[method(name = "query")]
    async fn query(
        &self,
        module: String,
        method: String,
        params: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;

    /// Every block as it is finalized, in order, as `lakh_finalized`
    /// notifications. A subscriber too slow to keep up is dropped with a
    /// reason rather than silently skipped.
    #[subscription(name = "subscribeFinalized" => "finalized", unsubscribe = "unsubscribeFinalized", item = BlockInfo)]
    async fn subscribe_finalized(&self) -> SubscriptionResult;
}
}

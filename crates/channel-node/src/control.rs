//! The local control port of `lakh channel serve`: a JSON-RPC (HTTP) server
//! on loopback through which `lakh channel open | pay | deposit | close | list | watch`
//! drive the running node. Amounts travel as text in the asset's units (or
//! base units with `base_units`), converted here with the asset's decimals.

use crate::node::{ChannelView, Node, PayReport, PaywordReport, PaywordView, RoutedReport};
use crate::{NodeError, wire};
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use lakh_types::modules::channel::{ChannelId, MIN_CHALLENGE_BLOCKS};
use lakh_types::{Address, AssetId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// JSON-RPC error code of every refusal; `data.code` holds the stable code.
pub const CONTROL_ERROR: i32 = -32050;
/// Most payments one `pay` call makes.
pub const MAX_PAY_COUNT: u64 = 100_000;

/// `open`'s parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenParams {
    /// The peer as `KEY@HOST:PORT`.
    pub peer: String,
    /// Asset symbol or id.
    pub asset: String,
    /// This node's deposit, in the asset's units (or base units).
    pub deposit: String,
    #[serde(default)]
    pub base_units: bool,
    /// Challenge window (blocks) [default: the module's floor].
    #[serde(default)]
    pub challenge_blocks: Option<u64>,
}

/// `paywordOpen`'s parameters: `deposit` split into `payments` equal payments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaywordOpenParams {
    /// The payee as `KEY@HOST:PORT`.
    pub peer: String,
    pub asset: String,
    /// The whole deposit, in the asset's units (or base units).
    pub deposit: String,
    /// How many payments it makes (the hash chain's length).
    pub payments: u32,
    #[serde(default)]
    pub base_units: bool,
    /// The payer's refund window (blocks) [default: the module's floor].
    #[serde(default)]
    pub challenge_blocks: Option<u64>,
}

/// `paywordClaim`'s parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaywordClaimParams {
    pub channel: ChannelId,
}

/// `pay`'s parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PayParams {
    pub to: Address,
    pub amount: String,
    #[serde(default)]
    pub base_units: bool,
    /// Payments of `amount` each [default: 1].
    #[serde(default)]
    pub count: Option<u64>,
}

/// `pay_via`'s parameters: pay `to` through `via`'s channel node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PayViaParams {
    pub to: Address,
    pub via: Address,
    pub amount: String,
    #[serde(default)]
    pub base_units: bool,
}

/// `withdraw`'s parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WithdrawParams {
    pub channel: ChannelId,
    pub amount: String,
    #[serde(default)]
    pub base_units: bool,
}

/// `close`'s parameters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CloseParams {
    #[serde(default)]
    pub peer: Option<Address>,
    #[serde(default)]
    pub channel: Option<ChannelId>,
    #[serde(default)]
    pub unilateral: bool,
}

/// `deposit`'s parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepositParams {
    #[serde(default)]
    pub peer: Option<Address>,
    #[serde(default)]
    pub channel: Option<ChannelId>,
    pub amount: String,
    #[serde(default)]
    pub base_units: bool,
}

/// `watch`'s parameters: the watchtower as `KEY@HOST:PORT`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WatchParams {
    pub tower: String,
}

/// An asset's symbol and decimals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetUnits {
    pub id: AssetId,
    pub symbol: String,
    pub decimals: u8,
}

/// `list`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ListAnswer {
    pub address: Address,
    pub listen: String,
    pub channels: Vec<ChannelView>,
    /// Channels this node watches for others.
    pub watched: usize,
    /// Units of the channels' assets (when the node has a chain).
    pub assets: Vec<AssetUnits>,
    /// PayWord channels, paying and paid.
    #[serde(default)]
    pub paywords: Vec<PaywordView>,
}

#[rpc(server, client, namespace = "channel")]
pub trait ControlApi {
    /// Opens a channel on chain and announces it to the peer.
    #[method(name = "open")]
    async fn open(&self, params: OpenParams) -> RpcResult<ChannelView>;

    /// Pays a peer through an open channel (co-signed states).
    #[method(name = "pay")]
    async fn pay(&self, params: PayParams) -> RpcResult<PayReport>;

    /// Pays a node this one has no channel with, through an intermediary
    /// (hash-locked, one hop).
    #[method(name = "payVia")]
    async fn pay_via(&self, params: PayViaParams) -> RpcResult<RoutedReport>;

    /// Withdraws part of this node's balance on chain; the channel stays open.
    #[method(name = "withdraw")]
    async fn withdraw(&self, params: WithdrawParams) -> RpcResult<ChannelView>;

    /// Adds to this node's deposit on chain and co-signs a state counting it.
    #[method(name = "deposit")]
    async fn deposit(&self, params: DepositParams) -> RpcResult<ChannelView>;

    /// Closes a channel cooperatively or alone.
    #[method(name = "close")]
    async fn close(&self, params: CloseParams) -> RpcResult<ChannelView>;

    /// The node's channels.
    #[method(name = "list")]
    async fn list(&self) -> RpcResult<ListAnswer>;

    /// Hands the latest states to a watchtower; returns how many.
    #[method(name = "watch")]
    async fn watch(&self, params: WatchParams) -> RpcResult<usize>;

    /// Opens a PayWord channel on chain and offers it to the payee.
    #[method(name = "paywordOpen")]
    async fn payword_open(&self, params: PaywordOpenParams) -> RpcResult<PaywordView>;

    /// Pays through a PayWord channel (`amount` a whole number of its unit).
    #[method(name = "paywordPay")]
    async fn payword_pay(&self, params: PayParams) -> RpcResult<PaywordReport>;

    /// The payee's close of a PayWord channel: claims with the deepest word.
    #[method(name = "paywordClaim")]
    async fn payword_claim(&self, params: PaywordClaimParams) -> RpcResult<PaywordView>;
}

/// The control server's side.
pub struct Control {
    node: Arc<Node>,
    listen: String,
    units: Mutex<HashMap<AssetId, AssetUnits>>,
}

fn rpc_error(e: NodeError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        CONTROL_ERROR,
        e.message,
        Some(serde_json::json!({ "code": e.code })),
    )
}

/// Parses `KEY@HOST:PORT`.
pub fn parse_peer(s: &str) -> Result<(Address, String), NodeError> {
    let (key, addr) = s
        .split_once('@')
        .ok_or_else(|| NodeError::new("invalid_input", format!("{s:?} is not KEY@HOST:PORT")))?;
    let key: Address = key
        .parse()
        .map_err(|e| NodeError::new("invalid_input", format!("{key}: {e}")))?;
    if addr.is_empty() || addr.len() > wire::MAX_ADDR_CHARS {
        return Err(NodeError::new(
            "invalid_input",
            "a peer address is HOST:PORT",
        ));
    }
    Ok((key, addr.to_string()))
}

impl Control {
    pub fn new(node: Arc<Node>, listen: String) -> Control {
        Control {
            node,
            listen,
            units: Mutex::new(HashMap::new()),
        }
    }

    async fn units_of(&self, asset: AssetId) -> Result<AssetUnits, NodeError> {
        if let Some(u) = self
            .units
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&asset)
        {
            return Ok(u.clone());
        }
        let chain = self.node.chain().ok_or_else(|| {
            NodeError::new("no_chain", "amounts need --base-units without a chain")
        })?;
        let info = chain.asset(&asset.0.to_string()).await?;
        let u = AssetUnits {
            id: info.id,
            symbol: info.symbol.to_string(),
            decimals: info.decimals,
        };
        self.units
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(asset, u.clone());
        Ok(u)
    }

    /// The asset of the first open channel `matches` picks.
    fn open_asset(&self, matches: impl Fn(&ChannelView) -> bool) -> Result<AssetId, NodeError> {
        self.node
            .list()
            .into_iter()
            .find(|c| c.phase == "open" && matches(c))
            .map(|c| c.asset)
            .ok_or_else(|| NodeError::new("unknown_channel", "no open channel matches"))
    }

    async fn amount(
        &self,
        text: &str,
        asset: AssetId,
        base_units: bool,
    ) -> Result<u128, NodeError> {
        let decimals = if base_units {
            0
        } else {
            self.units_of(asset).await?.decimals
        };
        lakh_types::decimal::parse_units(text, decimals)
            .map_err(|e| NodeError::new("invalid_input", format!("amount {text:?}: {e}")))
    }
}

impl Control {
    /// The asset and amount of an opening deposit (`asset` by symbol or id,
    /// `deposit` in its units unless `base_units`); opening needs a chain.
    async fn deposit(
        &self,
        asset: &str,
        deposit: &str,
        base_units: bool,
    ) -> Result<(AssetId, u128), NodeError> {
        let chain = self
            .node
            .chain()
            .ok_or_else(|| NodeError::new("no_chain", "opening needs --rpc"))?;
        let asset = chain.asset(asset).await?.id;
        Ok((asset, self.amount(deposit, asset, base_units).await?))
    }
}

/// How many payments `p` asks for: 1 by default, at most [`MAX_PAY_COUNT`].
fn pay_count(p: &PayParams) -> Result<u64, NodeError> {
    let count = p.count.unwrap_or(1);
    if count == 0 || count > MAX_PAY_COUNT {
        return Err(NodeError::new(
            "invalid_input",
            format!("count must be 1..={MAX_PAY_COUNT}"),
        ));
    }
    Ok(count)
}

#[async_trait]
impl ControlApiServer for Control {
    async fn open(&self, p: OpenParams) -> RpcResult<ChannelView> {
        let run = async {
            let (peer, addr) = parse_peer(&p.peer)?;
            let (asset, deposit) = self.deposit(&p.asset, &p.deposit, p.base_units).await?;
            self.node
                .open_channel(
                    peer,
                    &addr,
                    asset,
                    deposit,
                    p.challenge_blocks.unwrap_or(MIN_CHALLENGE_BLOCKS),
                )
                .await
        };
        run.await.map_err(rpc_error)
    }

    async fn pay(&self, p: PayParams) -> RpcResult<PayReport> {
        let run = async {
            let count = pay_count(&p)?;
            let asset = self.open_asset(|c| c.peer == p.to)?;
            let amount = self.amount(&p.amount, asset, p.base_units).await?;
            self.node.pay(p.to, amount, count).await
        };
        run.await.map_err(rpc_error)
    }

    async fn pay_via(&self, p: PayViaParams) -> RpcResult<RoutedReport> {
        let run = async {
            let asset = self.open_asset(|c| c.peer == p.via)?;
            let amount = self.amount(&p.amount, asset, p.base_units).await?;
            self.node.pay_via(p.to, p.via, amount).await
        };
        run.await.map_err(rpc_error)
    }

    async fn withdraw(&self, p: WithdrawParams) -> RpcResult<ChannelView> {
        let run = async {
            let asset = self.open_asset(|c| c.id == p.channel)?;
            let amount = self.amount(&p.amount, asset, p.base_units).await?;
            self.node.withdraw(p.channel, amount).await
        };
        run.await.map_err(rpc_error)
    }

    async fn deposit(&self, p: DepositParams) -> RpcResult<ChannelView> {
        let run = async {
            let asset = self.open_asset(|c| {
                p.peer.is_none_or(|peer| c.peer == peer) && p.channel.is_none_or(|id| c.id == id)
            })?;
            let amount = self.amount(&p.amount, asset, p.base_units).await?;
            self.node.deposit(p.peer, p.channel, amount).await
        };
        run.await.map_err(rpc_error)
    }

    async fn close(&self, p: CloseParams) -> RpcResult<ChannelView> {
        self.node
            .close(p.peer, p.channel, p.unilateral)
            .await
            .map_err(rpc_error)
    }

    async fn list(&self) -> RpcResult<ListAnswer> {
        let channels = self.node.list();
        let paywords = self.node.paywords();
        let mut assets: Vec<AssetId> = channels
            .iter()
            .map(|c| c.asset)
            .chain(paywords.iter().map(|p| p.asset))
            .collect();
        assets.sort();
        assets.dedup();
        let mut units = Vec::new();
        for a in assets {
            if let Ok(u) = self.units_of(a).await {
                units.push(u);
            }
        }
        Ok(ListAnswer {
            address: self.node.address(),
            listen: self.listen.clone(),
            channels,
            watched: self.node.watched_count(),
            assets: units,
            paywords,
        })
    }

    async fn watch(&self, p: WatchParams) -> RpcResult<usize> {
        let run = async {
            let (tower, addr) = parse_peer(&p.tower)?;
            self.node.send_to_tower(tower, &addr).await
        };
        run.await.map_err(rpc_error)
    }

    async fn payword_open(&self, p: PaywordOpenParams) -> RpcResult<PaywordView> {
        let run = async {
            let (peer, addr) = parse_peer(&p.peer)?;
            let (asset, deposit) = self.deposit(&p.asset, &p.deposit, p.base_units).await?;
            let unit = unit_of(deposit, p.payments)?;
            self.node
                .payword_open(
                    (peer, &addr),
                    asset,
                    (unit, p.payments),
                    p.challenge_blocks.unwrap_or(MIN_CHALLENGE_BLOCKS),
                )
                .await
        };
        run.await.map_err(rpc_error)
    }

    async fn payword_pay(&self, p: PayParams) -> RpcResult<PaywordReport> {
        let run = async {
            let count = pay_count(&p)?;
            let asset = self
                .node
                .paywords()
                .into_iter()
                .find(|c| c.role == "payer" && c.peer == p.to)
                .map(|c| c.asset)
                .ok_or_else(|| {
                    NodeError::new("unknown_channel", "no PayWord channel to the payee")
                })?;
            let amount = self.amount(&p.amount, asset, p.base_units).await?;
            self.node.payword_pay_to(p.to, amount, count).await
        };
        run.await.map_err(rpc_error)
    }

    async fn payword_claim(&self, p: PaywordClaimParams) -> RpcResult<PaywordView> {
        self.node.payword_claim(p.channel).await.map_err(rpc_error)
    }
}

/// One payment of a PayWord channel whose `deposit` pays for `payments`.
pub fn unit_of(deposit: u128, payments: u32) -> Result<u128, NodeError> {
    let max = lakh_types::modules::channel::MAX_PAYWORD_LENGTH;
    if !(1..=max).contains(&payments) {
        return Err(NodeError::new(
            "invalid_input",
            format!("a PayWord channel makes 1..={max} payments"),
        ));
    }
    let payments = u128::from(payments);
    if deposit == 0 || !deposit.is_multiple_of(payments) {
        return Err(NodeError::new(
            "invalid_input",
            format!(
                "the deposit ({deposit} base units) must split into {payments} equal, positive payments"
            ),
        ));
    }
    Ok(deposit / payments)
}

/// Starts the control server on `addr` (loopback); returns where it listens
/// and its handle (the server stops when the handle is dropped... or stopped).
pub async fn start(
    control: Control,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, jsonrpsee::server::ServerHandle)> {
    let server = jsonrpsee::server::Server::builder().build(addr).await?;
    let bound = server.local_addr()?;
    Ok((bound, server.start(control.into_rpc())))
}

/// A client of a serve process's control port.
pub fn client(url: &str) -> Result<jsonrpsee::http_client::HttpClient, NodeError> {
    jsonrpsee::http_client::HttpClientBuilder::default()
        .request_timeout(std::time::Duration::from_secs(120))
        .build(url)
        .map_err(|e| NodeError::new("unreachable", format!("control port {url}: {e}")))
}

/// The code and message of a control call's error.
pub fn call_error(e: jsonrpsee::core::client::Error) -> NodeError {
    match e {
        jsonrpsee::core::client::Error::Call(obj) => {
            let code = obj
                .data()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                .and_then(|v| v["code"].as_str().map(str::to_string))
                .unwrap_or_else(|| "control_error".into());
            NodeError::new(&code, obj.message().to_string())
        }
        other => NodeError::new("unreachable", format!("control port: {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_payword_deposit_splits_into_equal_payments_or_is_refused() {
        assert_eq!(unit_of(10_000_000, 1_000).unwrap(), 10_000);
        assert_eq!(unit_of(65_536, 65_536).unwrap(), 1);
        for (deposit, payments) in [(10, 3), (0, 1), (10, 0), (1 << 20, 65_537)] {
            let e = unit_of(deposit, payments).unwrap_err();
            assert_eq!(e.code, "invalid_input", "{deposit} / {payments}");
        }
    }
}

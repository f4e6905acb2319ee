//! The node's side of the chain: channel transactions signed with the node's
//! key, submitted through a lakh node's JSON-RPC and waited on until final,
//! and the `channel` module's queries.

use crate::NodeError;
use lakh_rpc::{AssetInfoJson, AssetRef, ClientError, FinalizedTx, LakhClient, TxStatusInfo};
use lakh_types::modules::channel::query::{ChannelAnswer, PairAnswer, SecretAnswer};
use lakh_types::modules::channel::{ChannelAction, ChannelEvent, ChannelId, Hash32, hash32};
use lakh_types::{Action, Address, Event, PrivateKey, Receipt, Transaction, fees::required_fee};
use std::time::Duration;

/// How long a channel transaction may take to finalize.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(60);

/// A lakh node reached over JSON-RPC, and the key that pays the fees.
pub struct Chain {
    client: LakhClient,
    key: PrivateKey,
    chain_id: u64,
    /// One transaction of this key at a time, so nonces never collide.
    sending: tokio::sync::Mutex<()>,
}

fn client_error(e: ClientError) -> NodeError {
    let code = match &e {
        ClientError::Refused(r) => r.code.clone(),
        ClientError::Query { code, .. } => code.clone(),
        ClientError::Timeout { .. } => "timeout".into(),
        ClientError::Transport { .. } => "unreachable".into(),
        _ => "chain_error".into(),
    };
    NodeError::new(&code, e.to_string())
}

impl Chain {
    /// Connects to the node at `url` and learns its chain id.
    pub async fn connect(url: &str, key: PrivateKey) -> Result<Chain, NodeError> {
        let client = LakhClient::connect(url).map_err(client_error)?;
        let chain_id = client.chain_id().await.map_err(client_error)?;
        Ok(Chain {
            client,
            key,
            chain_id,
            sending: tokio::sync::Mutex::new(()),
        })
    }

    /// The chain id transactions carry (and channel ids bind).
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Signs, submits and waits for `action` to finalize; a refused or
    /// failed transaction is an error with its reason.
    pub async fn send(&self, action: ChannelAction) -> Result<Receipt, NodeError> {
        let _one_at_a_time = self.sending.lock().await;
        use commonware_cryptography::Signer;
        let addr = Address::from(self.key.public_key());
        let action = Action::Channel(Box::new(action));
        let head = self.client.head().await.map_err(client_error)?;
        let account = self
            .client
            .account(addr, false)
            .await
            .map_err(client_error)?;
        let nonce = account.pending_nonce.unwrap_or(0).max(account.nonce);
        let max_fee = required_fee(&action, head.base_fee).saturating_mul(2);
        let tx = Transaction {
            chain_id: self.chain_id,
            sender: addr,
            nonce,
            max_fee,
            action,
        }
        .sign(&self.key);
        let id = self.client.submit(&tx).await.map_err(client_error)?;
        let FinalizedTx { receipt, .. } = self
            .client
            .wait_for_finality(id, FINALITY_TIMEOUT)
            .await
            .map_err(client_error)?;
        if let lakh_types::TxStatus::Failed { error } = &receipt.status {
            let json = serde_json::to_value(error).unwrap_or_default();
            let code = json["code"].as_str().unwrap_or("failed").to_string();
            return Err(NodeError::new(
                &code,
                format!("transaction {id} failed: {json}"),
            ));
        }
        Ok(receipt)
    }

    /// The channel as the chain keeps it (`None`: never opened or paid out).
    pub async fn channel(&self, id: &ChannelId) -> Result<Option<ChannelAnswer>, NodeError> {
        match self
            .client
            .query("channel", "channel", serde_json::json!({ "channel": id }))
            .await
        {
            Ok(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| NodeError::new("chain_error", format!("channel answer: {e}"))),
            Err(ClientError::Query { code, .. }) if code == "not_found" => Ok(None),
            Err(e) => Err(client_error(e)),
        }
    }

    /// The pair's next channel counter.
    pub async fn next_counter(&self, participants: [Address; 2]) -> Result<u64, NodeError> {
        let v = self
            .client
            .query(
                "channel",
                "pair",
                serde_json::json!({ "participants": participants }),
            )
            .await
            .map_err(client_error)?;
        let pair: PairAnswer = serde_json::from_value(v)
            .map_err(|e| NodeError::new("chain_error", format!("pair answer: {e}")))?;
        Ok(pair.next_counter)
    }

    /// The height a hash lock's secret was revealed on chain at, if it was.
    pub async fn secret_revealed(&self, hash_lock: &Hash32) -> Result<Option<u64>, NodeError> {
        let v = self
            .client
            .query(
                "channel",
                "secret",
                serde_json::json!({ "hash_lock": hash_lock }),
            )
            .await
            .map_err(client_error)?;
        let answer: SecretAnswer = serde_json::from_value(v)
            .map_err(|e| NodeError::new("chain_error", format!("secret answer: {e}")))?;
        Ok(answer.revealed_height)
    }

    /// A hash lock's secret as revealed on chain at `height` (from
    /// [`Chain::secret_revealed`]): the registry keeps only the reveal
    /// height, so the secret is read from the `SecretRevealed` event of that
    /// block's reveal (one receipt read per transaction of the block).
    pub async fn revealed_secret(
        &self,
        hash_lock: &Hash32,
        height: u64,
    ) -> Result<Hash32, NodeError> {
        let block = self
            .client
            .block_by_height(height)
            .await
            .map_err(client_error)?
            .ok_or_else(|| {
                NodeError::new(
                    "chain_error",
                    format!("no block at the reveal height {height}"),
                )
            })?;
        for id in block.tx_ids {
            let TxStatusInfo::Finalized { receipt, .. } =
                self.client.tx_status(id).await.map_err(client_error)?
            else {
                continue;
            };
            let found = receipt.events.iter().find_map(|e| match e {
                Event::Channel(ChannelEvent::SecretRevealed {
                    hash_lock: h,
                    secret,
                }) if h == hash_lock && hash32(secret) == *hash_lock => Some(*secret),
                _ => None,
            });
            if let Some(secret) = found {
                return Ok(secret);
            }
        }
        Err(NodeError::new(
            "chain_error",
            format!("the reveal of {hash_lock} at height {height} has no readable receipt"),
        ))
    }

    /// An asset by symbol or id.
    pub async fn asset(&self, symbol_or_id: &str) -> Result<AssetInfoJson, NodeError> {
        let r: AssetRef = symbol_or_id
            .to_uppercase()
            .parse()
            .map_err(|e: String| NodeError::new("unknown_asset", e))?;
        self.client
            .asset(&r)
            .await
            .map_err(client_error)?
            .ok_or_else(|| NodeError::new("unknown_asset", format!("no asset {symbol_or_id}")))
    }

    /// The chain's latest finalized height.
    pub async fn height(&self) -> Result<u64, NodeError> {
        Ok(self.client.head().await.map_err(client_error)?.height)
    }
}

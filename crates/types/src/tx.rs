//! Transactions: the unsigned body, the signed envelope and its id.

use crate::modules::channel::SignatureClaim;
use crate::{Action, Address, PrivateKey, PublicKey, Refusal, Signature, TX_NAMESPACE, limits};
use bytes::{BufMut, Bytes};
use commonware_codec::Buf;
use commonware_codec::{Encode, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write};
use commonware_cryptography::{BatchEntry, BatchVerifier, Hasher, Sha256, Signer, Verifier};
use commonware_parallel::Sequential;
use std::fmt;
use std::sync::OnceLock;

/// A transaction body: what the sender authorizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Chain the transaction is valid on (part of the signed bytes).
    pub chain_id: u64,
    /// Signer and fee payer: the bytes of its ed25519 key. Whether they are
    /// a point is checked with the signature, where a batch verifier
    /// decompresses every key anyway, not at decode.
    pub sender: Address,
    /// Must equal the sender's next nonce; consumed even if execution fails.
    pub nonce: u64,
    /// Most native base units the sender will pay in fees.
    pub max_fee: u128,
    /// The operation to perform.
    pub action: Action,
}

impl Write for Transaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.sender.write(buf);
        self.nonce.write(buf);
        self.max_fee.write(buf);
        self.action.write(buf);
    }
}
impl EncodeSize for Transaction {
    fn encode_size(&self) -> usize {
        u64::SIZE + Address::LEN + u64::SIZE + u128::SIZE + self.action.encode_size()
    }
}
impl Read for Transaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Transaction {
            chain_id: u64::read(buf)?,
            sender: Address::read(buf)?,
            nonce: u64::read(buf)?,
            max_fee: u128::read(buf)?,
            action: Action::read(buf)?,
        })
    }
}

impl Transaction {
    /// Signs the body. The signature covers the canonical encoding under [`TX_NAMESPACE`].
    pub fn sign(self, key: &PrivateKey) -> SignedTransaction {
        debug_assert_eq!(
            Address::from(&key.public_key()),
            self.sender,
            "signing key must be the sender"
        );
        let body = self.encode();
        let signature = key.sign(TX_NAMESPACE, &body);
        let mut raw = Vec::with_capacity(body.len() + Signature::SIZE);
        raw.extend_from_slice(&body);
        raw.extend_from_slice(signature.as_ref());
        let raw = Bytes::from(raw);
        SignedTransaction {
            id: TxId::of(&raw),
            tx: self,
            signature,
            raw,
        }
    }

    /// The sender's account address (its key bytes).
    pub fn sender_address(&self) -> Address {
        self.sender
    }
}

/// Hash of a signed transaction's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TxId(pub [u8; 32]);

impl TxId {
    /// SHA-256 of a signed transaction's canonical encoding.
    pub fn of(signed_encoding: &[u8]) -> TxId {
        let digest = Sha256::hash(&[signed_encoding]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        TxId(out)
    }
    /// Lowercase hex, 64 characters, no `0x` prefix.
    pub fn to_hex(&self) -> String {
        crate::codec::hex32_str(&self.0, &mut [0u8; 64]).to_owned()
    }
}
impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TxId({})", self.to_hex())
    }
}
impl std::str::FromStr for TxId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| format!("transaction id is not hex: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "transaction id must be 32 bytes (64 hex characters)".to_string())?;
        Ok(TxId(arr))
    }
}
crate::codec::bytes32_forms!(TxId);

/// A signed transaction, with its id and canonical bytes kept from decoding
/// (or signing) so they are never recomputed on the hot path.
#[derive(Clone)]
pub struct SignedTransaction {
    /// The signed body.
    pub tx: Transaction,
    /// Ed25519 signature by `tx.sender` over the body under [`TX_NAMESPACE`].
    pub signature: Signature,
    id: TxId,
    raw: Bytes,
}

impl PartialEq for SignedTransaction {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl Eq for SignedTransaction {}

impl fmt::Debug for SignedTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedTransaction")
            .field("id", &self.id)
            .field("tx", &self.tx)
            .finish()
    }
}

impl SignedTransaction {
    /// Decodes one signed transaction from its canonical bytes (zero-copy: the
    /// transaction keeps a reference to `raw`). Rejects oversize input,
    /// malformed fields and trailing bytes. The sender's key is not
    /// decompressed here: a key that is not a point fails verification.
    pub fn decode(raw: Bytes) -> Result<SignedTransaction, Refusal> {
        if raw.len() > limits::MAX_TX_BYTES {
            return Err(Refusal::Oversize {
                size: raw.len(),
                max: limits::MAX_TX_BYTES,
            });
        }
        let mut buf = raw.clone();
        let tx = Transaction::read(&mut buf).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let signature = Signature::read(&mut buf).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if !buf.is_empty() {
            return Err(Refusal::Malformed(format!(
                "{} trailing bytes after the signature",
                buf.len()
            )));
        }
        Ok(SignedTransaction {
            id: TxId::of(&raw),
            tx,
            signature,
            raw,
        })
    }

    /// Hash of [`Self::raw`].
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The canonical signed encoding (body followed by the 64-byte signature).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The signed message: the body's canonical encoding.
    pub fn body_bytes(&self) -> &[u8] {
        &self.raw[..self.raw.len() - Signature::SIZE]
    }

    /// Length of [`Self::raw`] (bytes).
    pub fn encoded_len(&self) -> usize {
        self.raw.len()
    }

    /// Verifies this transaction's signature alone (false when the sender's
    /// key is not a point).
    pub fn verify_signature(&self) -> bool {
        self.tx
            .sender
            .public_key()
            .is_some_and(|key| self.verify_with(&key))
    }

    /// Verifies the signature under `key`, already decompressed from the
    /// sender's bytes.
    fn verify_with(&self, key: &PublicKey) -> bool {
        key.verify(TX_NAMESPACE, self.body_bytes(), &self.signature)
    }
}

/// Where commonware's batch verifier takes senders' keys as points. The
/// lanes of `lakh-sigverify` decompress every key inside the batch and ask
/// for none; only machines without them (or `LAKH_SIGVERIFY=commonware`)
/// use a source, so a cache of decompressed keys pays only there.
pub trait SenderKeySource {
    /// Each transaction's sender key as a point, in order (`None`: the bytes
    /// are not a point).
    fn public_keys(&self, txs: &[SignedTransaction]) -> Vec<Option<PublicKey>>;

    /// Keys of transactions whose signatures verified, for a source that
    /// keeps them.
    fn verified<'a>(&self, keys: impl Iterator<Item = &'a PublicKey>) {
        let _ = keys;
    }
}

/// Decompresses every key, keeping none.
pub struct Decompress;

impl SenderKeySource for Decompress {
    fn public_keys(&self, txs: &[SignedTransaction]) -> Vec<Option<PublicKey>> {
        txs.iter().map(|t| t.tx.sender.public_key()).collect()
    }
}

/// Verifies all signatures of `txs` with one batch verification: each
/// transaction's own and the off-chain signatures its action carries (a
/// channel's co-signed states). Returns the indices of transactions with an
/// invalid one (empty when all are valid): a failed batch falls back to
/// individual checks to name the culprits.
pub fn verify_signatures(txs: &[SignedTransaction]) -> Vec<usize> {
    verify_signatures_with(txs, &Decompress)
}

/// [`verify_signatures`], taking sender keys from `keys` where a point is
/// needed.
pub fn verify_signatures_with(
    txs: &[SignedTransaction],
    keys: &impl SenderKeySource,
) -> Vec<usize> {
    verify_signatures_on(txs, keys, lanes_enabled())
}

/// [`verify_signatures_with`] on a chosen verifier: `lanes` takes
/// `lakh-sigverify`'s where the CPU has them, else commonware's. Both paths
/// are public so tests can hold them to the same verdicts.
pub fn verify_signatures_on(
    txs: &[SignedTransaction],
    keys: &impl SenderKeySource,
    lanes: bool,
) -> Vec<usize> {
    if txs.is_empty() {
        return Vec::new();
    }
    let mut bad = own_signatures_invalid(txs, keys, lanes);
    let claims = carried_claims(txs);
    if !verify_claims(&claims) {
        bad.extend(
            claims
                .iter()
                .filter(|(_, claim)| !claim.verify())
                .map(|(i, _)| *i),
        );
        bad.sort_unstable();
        bad.dedup();
    }
    bad
}

/// Which batch verifier checks transactions' own signatures. Both apply the
/// same ZIP-215 rules; `lakh-sigverify`'s runs on AVX-512 IFMA lanes and is
/// the default where the CPU has them. `LAKH_SIGVERIFY=commonware` keeps
/// commonware's (for comparisons).
pub fn lanes_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var("LAKH_SIGVERIFY").as_deref() != Ok("commonware")
            && lakh_sigverify::has_lanes()
    })
}

/// Indices of transactions whose own signature is invalid: one batch, and
/// single checks only when it fails.
fn own_signatures_invalid(
    txs: &[SignedTransaction],
    keys: &impl SenderKeySource,
    lanes: bool,
) -> Vec<usize> {
    let lanes_verdict = if lanes { lanes_verdict(txs) } else { None };
    if lanes_verdict == Some(true) {
        return Vec::new();
    }
    let points = keys.public_keys(txs);
    // A batch the lanes refused goes straight to single checks.
    if lanes_verdict.is_none()
        && points.iter().all(Option::is_some)
        && commonware_verdict(txs, &points)
    {
        keys.verified(points.iter().flatten());
        return Vec::new();
    }
    let valid: Vec<bool> = txs
        .iter()
        .zip(&points)
        .map(|(t, key)| key.as_ref().is_some_and(|key| t.verify_with(key)))
        .collect();
    keys.verified(
        points
            .iter()
            .zip(&valid)
            .filter(|(_, ok)| **ok)
            .filter_map(|(key, _)| key.as_ref()),
    );
    valid
        .iter()
        .enumerate()
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| i)
        .collect()
}

/// The lanes' verdict on the batch (`None` without IFMA).
fn lanes_verdict(txs: &[SignedTransaction]) -> Option<bool> {
    let entries: Vec<lakh_sigverify::Entry> = txs
        .iter()
        .map(|t| {
            Some(lakh_sigverify::Entry {
                public_key: t.tx.sender.as_bytes(),
                signature: t.signature.as_ref().try_into().ok()?,
                namespace: TX_NAMESPACE,
                message: t.body_bytes(),
            })
        })
        .collect::<Option<_>>()?;
    lakh_sigverify::verify_batch(&entries)
}

/// Commonware's verdict on the batch, every key a point.
fn commonware_verdict(txs: &[SignedTransaction], points: &[Option<PublicKey>]) -> bool {
    let pairs: Vec<(&SignedTransaction, &PublicKey)> =
        txs.iter().zip(points.iter().flatten()).collect();
    PublicKey::verify_batch(
        &mut rand::rng(),
        &pairs,
        |_, (t, key)| BatchEntry {
            namespace: TX_NAMESPACE,
            message: t.body_bytes(),
            public_key: key,
            signature: &t.signature,
        },
        &Sequential,
    )
}

/// The off-chain signatures `txs` carry, by transaction index.
fn carried_claims(txs: &[SignedTransaction]) -> Vec<(usize, SignatureClaim)> {
    txs.iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.tx.action {
            Action::Channel(a) => Some(a.signature_claims().into_iter().map(move |c| (i, c))),
            _ => None,
        })
        .flatten()
        .collect()
}

/// One batch over `claims` (true when there are none). A claim whose key or
/// signature does not decode fails the batch.
fn verify_claims(claims: &[(usize, SignatureClaim)]) -> bool {
    if claims.is_empty() {
        return true;
    }
    let Some(decoded) = claims
        .iter()
        .map(|(_, c)| c.decoded().map(|(key, sig)| (c, key, sig)))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    PublicKey::verify_batch(
        &mut rand::rng(),
        &decoded,
        |_, (claim, key, sig)| BatchEntry {
            namespace: claim.namespace,
            message: &claim.message,
            public_key: key,
            signature: sig,
        },
        &Sequential,
    )
}

impl Write for SignedTransaction {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.raw);
    }
}
impl EncodeSize for SignedTransaction {
    fn encode_size(&self) -> usize {
        self.raw.len()
    }
}

/// Inside a block, transactions are length-prefixed so each can be sliced out
/// of the block buffer without copying.
pub fn write_tx_list(txs: &[SignedTransaction], buf: &mut impl BufMut) {
    txs.len().write(buf);
    for t in txs {
        t.raw.len().write(buf);
        buf.put_slice(&t.raw);
    }
}

/// Bytes [`write_tx_list`] writes for `txs`.
pub fn tx_list_encode_size(txs: &[SignedTransaction]) -> usize {
    txs.len().encode_size()
        + txs
            .iter()
            .map(|t| t.raw.len().encode_size() + t.raw.len())
            .sum::<usize>()
}

/// Reads a list written by [`write_tx_list`]: at most `max_txs` transactions,
/// each at most `MAX_TX_BYTES`, every one decoded (signatures not checked).
pub fn read_tx_list(
    buf: &mut impl Buf,
    max_txs: usize,
) -> Result<Vec<SignedTransaction>, CodecError> {
    use commonware_codec::RangeCfg;
    let count = usize::read_cfg(buf, &RangeCfg::new(..=max_txs))?;
    let mut out = Vec::with_capacity(count.min(buf.remaining() / 100 + 1));
    for _ in 0..count {
        let len = usize::read_cfg(buf, &RangeCfg::new(..=limits::MAX_TX_BYTES))?;
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let raw = buf.copy_to_bytes(len);
        let tx = SignedTransaction::decode(raw)
            .map_err(|_| CodecError::Invalid("SignedTransaction", "malformed transaction"))?;
        out.push(tx);
    }
    Ok(out)
}

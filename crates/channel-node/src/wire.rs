//! The peer protocol's messages and frames.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of one
//! [`Msg`] in the project's canonical codec (`commonware-codec`). A frame
//! longer than [`MAX_FRAME_BYTES`] is refused before it is read (the
//! connection is then closed), and every refusal carries a stable code from
//! [`codes`] and a reason.

use crate::htlc::Invoice;
use commonware_codec::{DecodeExt, Encode};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::channel::{
    ChannelId, ChannelRef, ChannelState, Hash32, Lock, MAX_LOCKS, Sig64,
};
use lakh_types::{Address, PrivateKey, PublicKey, Signature};

/// Largest frame body (bytes): far above any message but a full PayWord batch.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Most PayWord words one message carries.
pub const MAX_WORDS: usize = 1_024;
/// Longest listen address a peer announces.
pub const MAX_ADDR_CHARS: usize = 128;
/// Longest refusal reason.
pub const MAX_REASON_CHARS: usize = 256;
/// Namespace of the handshake signatures: a node proves its key by signing
/// the other side's challenge under it (never a state or transaction one).
pub const HELLO_NAMESPACE: &[u8] = b"lakh/channel/hello/v1";

/// Stable refusal codes (docs/modules/channel.md lists them).
pub mod codes {
    /// A signature does not verify under the sender's key.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// A state's version is not past every state this node signed.
    pub const WRONG_VERSION: &str = "wrong_version";
    /// A frame above the size limit.
    pub const OVERSIZE: &str = "oversize";
    /// A frame that does not decode as a message.
    pub const MALFORMED: &str = "malformed";
    /// The channel is not one this node keeps with the sender.
    pub const UNKNOWN_CHANNEL: &str = "unknown_channel";
    /// The channel is closing or closed.
    pub const NOT_OPEN: &str = "not_open";
    /// A state that does not add up, moves deposits or holds locks.
    pub const BAD_STATE: &str = "bad_state";
    /// An update that does not pay the receiver (only the payee's consent is asked).
    pub const NOT_PAYING: &str = "not_paying";
    /// The receiver has its own update in flight on the channel.
    pub const BUSY: &str = "busy";
    /// The channel the opener announced is not on chain as announced.
    pub const NOT_ON_CHAIN: &str = "not_on_chain";
    /// The handshake failed (wrong key, bad proof, unexpected message).
    pub const HANDSHAKE: &str = "handshake";
    /// A PayWord word that does not hash to the previous one.
    pub const BAD_PREIMAGE: &str = "bad_preimage";
    /// The receiver cannot store the state now (its disk failed).
    pub const STORE: &str = "store";
    /// A withdrawal is pending on the channel: no state is signed until the
    /// chain shows it or it expires.
    pub const WITHDRAWING: &str = "withdrawing";
    /// A final state (or a withdrawal) while locks are pending.
    pub const LOCKS_PENDING: &str = "locks_pending";
}

lakh_types::codec_struct! {
    /// A PayWord channel's terms as the payee checks them.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PaywordTerms {
        /// The channel.
        pub channel: ChannelRef,
        /// `sha256^length(seed)`.
        pub root: Hash32,
        /// Payments the chain covers.
        pub length: u32,
        /// Value of one payment (base units).
        pub unit_amount: u128,
    }
}

lakh_types::tagged_enum! {
    /// One message of the peer protocol.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Msg {
        /// First message each way: who I am, where I listen, and a fresh
        /// challenge for the other side to sign.
        0x01 => Hello {
            key: Address,
            listen: Text<MAX_ADDR_CHARS>,
            challenge: Hash32,
        },
        /// Second message each way: my signature under [`HELLO_NAMESPACE`]
        /// over the other side's challenge and both keys.
        0x02 => Proof {
            signature: Sig64,
        },
        /// The opener's channel is on chain: the receiver checks it there
        /// and answers `Joined` or a refusal.
        0x03 => Opened {
            channel: ChannelRef,
            challenge_blocks: u64,
        },
        /// The receiver keeps the announced channel.
        0x04 => Joined {
            channel: ChannelId,
        },
        /// A new state signed by the sender, built on the state of version
        /// `base`: the receiver countersigns it if `base` is its latest
        /// co-signed state and it pays the receiver (or is the final state of
        /// a cooperative close).
        0x05 => Update {
            base: u64,
            state: ChannelState,
            signature: Sig64,
        },
        /// The receiver's signature on the sender's update `version`.
        0x06 => Countersign {
            channel: ChannelId,
            version: u64,
            signature: Sig64,
        },
        /// A refusal with a stable code and a reason; `version` names the
        /// refused update (0 for anything else).
        0x07 => Refuse {
            channel: ChannelId,
            version: u64,
            code: Text<32>,
            reason: Text<MAX_REASON_CHARS>,
        },
        /// The sender's latest co-signed state of a shared channel and the
        /// locks it commits to, sent on every new connection so a restarted
        /// node catches up.
        0x08 => Latest {
            state: ChannelState,
            signatures: [Sig64; 2],
            locks: BoundedVec<Lock, MAX_LOCKS>,
        },
        /// Watch this channel for me: dispute a stale close with this state.
        0x09 => Watch {
            channel: ChannelRef,
            state: ChannelState,
            signatures: [Sig64; 2],
        },
        /// A PayWord channel the sender pays the receiver through.
        0x0a => PaywordOffer {
            terms: PaywordTerms,
        },
        /// PayWord payments: words `first_depth, first_depth + 1, …` of the
        /// hash chain, each one sha256 step below the one before.
        0x0b => PaywordPay {
            channel: ChannelId,
            first_depth: u32,
            words: BoundedVec<Hash32, MAX_WORDS>,
        },
        /// The payee's deepest durably stored PayWord depth.
        0x0c => PaywordAck {
            channel: ChannelId,
            depth: u32,
        },
        /// Ask `payee` (the receiver, or a peer of the receiver's, which
        /// relays it) for an invoice: a hash only the payee knows the
        /// secret of. `id` names the answer.
        0x0d => InvoiceAsk {
            id: Hash32,
            payer: Address,
            payee: Address,
            amount: u128,
        },
        /// The answer to `InvoiceAsk` `id`.
        0x0e => InvoiceGive {
            id: Hash32,
            invoice: Invoice,
        },
        /// A new state signed by the sender adding `lock` (the sender pays
        /// it) to the state of version `base`; `payee` is who the payment
        /// is for (the receiver, or a peer it forwards to).
        0x0f => AddLock {
            base: u64,
            state: ChannelState,
            signature: Sig64,
            lock: Lock,
            payee: Address,
        },
        /// A new state signed by the sender (the lock's payer) removing the
        /// lock of `hash_lock` from the state of version `base`: paid to the
        /// receiver (`paid`), or refunded to the sender.
        0x10 => RemoveLock {
            base: u64,
            state: ChannelState,
            signature: Sig64,
            hash_lock: Hash32,
            paid: bool,
        },
        /// The secret of a lock the receiver pays the sender by.
        0x11 => Reveal {
            hash_lock: Hash32,
            secret: Hash32,
        },
        /// The payment of `hash_lock` will not go through the sender: the
        /// receiver may take its lock back.
        0x12 => Fail {
            hash_lock: Hash32,
            code: Text<32>,
            reason: Text<MAX_REASON_CHARS>,
        },
        /// A withdrawal: the state after it (built on version `base`), the
        /// sender's signatures under the withdraw namespace (until
        /// `expiry_height`) and the state namespace.
        0x13 => WithdrawAsk {
            base: u64,
            state: ChannelState,
            expiry_height: u64,
            signature: Sig64,
            state_signature: Sig64,
        },
        /// The receiver's two signatures on withdrawal `version`.
        0x14 => WithdrawGive {
            channel: ChannelId,
            version: u64,
            signature: Sig64,
            state_signature: Sig64,
        },
    }
}

impl Msg {
    /// A refusal message.
    pub fn refuse(channel: ChannelId, version: u64, code: &str, reason: &str) -> Msg {
        Msg::Refuse {
            channel,
            version,
            code: Text::clipped(code),
            reason: Text::clipped(reason),
        }
    }

    /// A routed payment's failure message.
    pub fn fail(hash_lock: Hash32, code: &str, reason: &str) -> Msg {
        Msg::Fail {
            hash_lock,
            code: Text::clipped(code),
            reason: Text::clipped(reason),
        }
    }

    /// The message's frame: length prefix and body.
    pub fn frame(&self) -> Vec<u8> {
        let body = self.encode();
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes one frame body.
    pub fn decode_body(body: &[u8]) -> Result<Msg, commonware_codec::Error> {
        Msg::decode(bytes::Bytes::copy_from_slice(body))
    }
}

/// The bytes a node signs to prove its key: the other side's challenge,
/// then the signer's key, then the other side's.
pub fn hello_message(challenge: &Hash32, signer: &Address, other: &Address) -> Vec<u8> {
    let mut m = Vec::with_capacity(96);
    m.extend_from_slice(&challenge.0);
    m.extend_from_slice(signer.as_bytes());
    m.extend_from_slice(other.as_bytes());
    m
}

/// 64 signature bytes.
pub fn sig64(sig: &Signature) -> Sig64 {
    let mut out = [0u8; 64];
    out.copy_from_slice(sig.as_ref());
    lakh_types::modules::shielded::FixedBytes(out)
}

/// Signs `message` under `namespace`.
pub fn sign(key: &PrivateKey, namespace: &[u8], message: &[u8]) -> Sig64 {
    use commonware_cryptography::Signer;
    sig64(&key.sign(namespace, message))
}

/// Whether `signature` is `signer`'s over `message` under `namespace`.
pub fn verify(signer: &Address, namespace: &[u8], message: &[u8], signature: &Sig64) -> bool {
    use commonware_cryptography::Verifier;
    let Ok(key) = PublicKey::decode(bytes::Bytes::copy_from_slice(signer.as_bytes())) else {
        return false;
    };
    let Ok(sig) = Signature::decode(bytes::Bytes::copy_from_slice(&signature.0)) else {
        return false;
    };
    key.verify(namespace, message, &sig)
}

/// Whether `signature` is `signer`'s over `state` (state namespace).
pub fn verify_state(signer: &Address, state: &ChannelState, signature: &Sig64) -> bool {
    verify(
        signer,
        lakh_types::modules::channel::STATE_NAMESPACE,
        &state.message(),
        signature,
    )
}

/// Whether every `(state, signature)` is `signer`'s over the state, checked
/// as one ed25519 batch (one key decoding, one multi-scalar check); `false`
/// if any fails, or the list is empty.
pub fn verify_states(
    signer: &Address,
    items: &[(&ChannelState, &Sig64)],
    strategy: &impl commonware_parallel::Strategy,
) -> bool {
    use commonware_cryptography::{BatchEntry, BatchVerifier};
    if items.is_empty() {
        return false;
    }
    let Ok(key) = PublicKey::decode(bytes::Bytes::copy_from_slice(signer.as_bytes())) else {
        return false;
    };
    let Some(decoded) = items
        .iter()
        .map(|(state, sig)| {
            Signature::decode(bytes::Bytes::copy_from_slice(&sig.0))
                .ok()
                .map(|sig| (state.message(), sig))
        })
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    PublicKey::verify_batch(
        &mut rand::rng(),
        &decoded,
        |_, (message, signature)| BatchEntry {
            namespace: lakh_types::modules::channel::STATE_NAMESPACE,
            message,
            public_key: &key,
            signature,
        },
        strategy,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::modules::shielded::FixedBytes;

    #[test]
    fn messages_round_trip_and_unknown_tags_are_refused() {
        let msgs = [
            Msg::Hello {
                key: Address([1; 32]),
                listen: Text::new("127.0.0.1:9").unwrap(),
                challenge: FixedBytes([2; 32]),
            },
            Msg::refuse(FixedBytes([3; 32]), 7, codes::BUSY, "in flight"),
            Msg::PaywordPay {
                channel: FixedBytes([4; 32]),
                first_depth: 3,
                words: BoundedVec::new(vec![FixedBytes([5; 32]); 3]).unwrap(),
            },
        ];
        for m in msgs {
            let frame = m.frame();
            let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len, frame.len() - 4);
            assert_eq!(Msg::decode_body(&frame[4..]).unwrap(), m);
        }
        assert!(Msg::decode_body(&[0xff]).is_err());
        // A word list one past its bound does not decode.
        let mut over = Msg::PaywordPay {
            channel: FixedBytes([4; 32]),
            first_depth: 1,
            words: BoundedVec::new(vec![FixedBytes([5; 32]); MAX_WORDS]).unwrap(),
        }
        .frame();
        // Patch the varint count from MAX_WORDS to MAX_WORDS + 1 (both two bytes).
        let count_at = 4 + 1 + 32 + 4;
        let mut count = Vec::new();
        commonware_codec::Write::write(&(MAX_WORDS + 1), &mut count);
        over[count_at..count_at + count.len()].copy_from_slice(&count);
        over.extend_from_slice(&[5; 32]);
        assert!(Msg::decode_body(&over[4..]).is_err());
    }

    #[test]
    fn batches_of_states_verify_only_when_every_signature_does() {
        let key = PrivateKey::from_seed(4);
        use commonware_cryptography::Signer;
        let signer = Address::from(&key.public_key());
        let states: Vec<ChannelState> = (1..=5)
            .map(|v| {
                let mut s = ChannelState::opening(FixedBytes([1; 32]), 0, 10);
                s.version = v;
                s
            })
            .collect();
        let mut sigs: Vec<Sig64> = states.iter().map(|s| s.sign(&key)).collect();
        let items = |sigs: &[Sig64]| -> bool {
            let pairs: Vec<(&ChannelState, &Sig64)> = states.iter().zip(sigs).collect();
            verify_states(&signer, &pairs, &commonware_parallel::Sequential)
        };
        assert!(items(&sigs));
        sigs.swap(1, 2);
        assert!(!items(&sigs));
        sigs.swap(1, 2);
        sigs[4] = states[4].sign(&PrivateKey::from_seed(5));
        assert!(!items(&sigs));
        assert!(!verify_states(
            &signer,
            &[],
            &commonware_parallel::Sequential
        ));
    }

    #[test]
    fn hello_proofs_bind_namespace_and_keys() {
        let key = PrivateKey::from_seed(1);
        use commonware_cryptography::Signer;
        let me = Address::from(&key.public_key());
        let other = Address([9; 32]);
        let challenge = FixedBytes([7; 32]);
        let m = hello_message(&challenge, &me, &other);
        let sig = sign(&key, HELLO_NAMESPACE, &m);
        assert!(verify(&me, HELLO_NAMESPACE, &m, &sig));
        assert!(!verify(
            &me,
            lakh_types::modules::channel::STATE_NAMESPACE,
            &m,
            &sig
        ));
        assert!(!verify(
            &me,
            HELLO_NAMESPACE,
            &hello_message(&FixedBytes([8; 32]), &me, &other),
            &sig
        ));
        assert!(!verify(&other, HELLO_NAMESPACE, &m, &sig));
    }
}

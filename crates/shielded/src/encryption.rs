//! Note encryption: x25519 key agreement + ChaCha20-Poly1305.
//!
//! Each output note travels with an [`EncryptedNote`]:
//!
//! * `epk = X25519(esk, 9)` for a fresh ephemeral secret `esk`;
//! * `enc`: the note plaintext (`asset ‖ value ‖ rcm`) under
//!   `K_enc = BLAKE3-derive("note encryption", X25519(esk, pk_enc) ‖ epk ‖ cm)`,
//!   readable by the recipient's incoming viewing key `ivk`
//!   (`X25519(ivk, epk)` is the same shared secret);
//! * `out`: the plaintext and the recipient's address under
//!   `K_out = BLAKE3-derive("outgoing", ovk ‖ epk ‖ cm)`, readable by the
//!   sender's outgoing viewing key `ovk`.
//!
//! Both are bound to the commitment `cm` as associated data, and a decrypted
//! note is accepted only if it re-commits to `cm`, so a ciphertext cannot be
//! moved to another output or made to show a different note. Each key encrypts
//! exactly one message, so the nonce is fixed at zero.
//!
//! A wallet finds its notes by trial decryption of every output; a viewing
//! key ([`ViewingKey`]) decrypts exactly the notes sent to its address
//! (`enc`) and the notes its address sent (`out`), and nothing else.

use ark_std::rand::{CryptoRng, RngCore};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit,
    aead::{Aead, Payload},
};
use lakh_types::AssetId;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::field;
use crate::keys::{ADDRESS_BYTES, ShieldedAddress, ViewingKey};
use crate::note::Note;
use crate::types::NoteCommitment;

const CONTEXT_ENC: &str = "lakh-shielded 2026 v1 note encryption";
const CONTEXT_OUT: &str = "lakh-shielded 2026 v1 outgoing note encryption";

/// `asset (8) ‖ value (8) ‖ rcm (32)`.
pub const NOTE_PLAINTEXT_BYTES: usize = 48;
const TAG_BYTES: usize = 16;
/// Bytes of the recipient ciphertext.
pub const ENC_BYTES: usize = NOTE_PLAINTEXT_BYTES + TAG_BYTES;
/// Bytes of the outgoing ciphertext.
pub const OUT_BYTES: usize = NOTE_PLAINTEXT_BYTES + ADDRESS_BYTES + TAG_BYTES;
/// Bytes of an encoded [`EncryptedNote`].
pub const ENCRYPTED_NOTE_BYTES: usize = 32 + ENC_BYTES + OUT_BYTES;

/// The ciphertexts that accompany one output note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptedNote {
    /// Ephemeral x25519 public key.
    pub epk: [u8; 32],
    /// The note, for the recipient.
    pub enc: [u8; ENC_BYTES],
    /// The note and its recipient, for the sender's outgoing viewing key.
    pub out: [u8; OUT_BYTES],
}

/// Why a note could not be encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    /// The note is not owned by the address it is encrypted to.
    #[error("the note's owner is not the recipient's paying key")]
    NotRecipientsNote,
    /// The recipient's encryption key is a low-order point (no shared secret).
    #[error("the recipient's encryption key is a low-order point")]
    LowOrderKey,
}

/// Where a scanned note came from, from the viewing key's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent to the viewing key's address.
    Incoming,
    /// Sent by the viewing key's owner to `recipient`.
    Outgoing {
        /// Whom it was sent to.
        recipient: ShieldedAddress,
    },
}

/// A note a viewing key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedNote {
    /// Index of the output in the scanned list.
    pub index: usize,
    /// The note.
    pub note: Note,
    /// Incoming or outgoing.
    pub direction: Direction,
}

fn plaintext(note: &Note) -> [u8; NOTE_PLAINTEXT_BYTES] {
    let mut out = [0u8; NOTE_PLAINTEXT_BYTES];
    out[..8].copy_from_slice(&note.asset.0.to_le_bytes());
    out[8..16].copy_from_slice(&note.value.to_le_bytes());
    out[16..].copy_from_slice(&field::encode(&note.rcm));
    out
}

/// `(asset, value, rcm)` from a plaintext; `None` if `rcm` is not canonical.
fn parse_plaintext(bytes: &[u8]) -> Option<(AssetId, u64, ark_bn254::Fr)> {
    let asset = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let value = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    let rcm = field::decode_slice(bytes.get(16..NOTE_PLAINTEXT_BYTES)?).ok()?;
    Some((AssetId(asset), value, rcm))
}

fn key(context: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(context);
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

fn seal(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(&(*key).into())
        .encrypt(&[0u8; 12].into(), Payload { msg, aad })
        .expect("ChaCha20-Poly1305 encrypts messages of any size used here")
}

fn open(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(&(*key).into())
        .decrypt(&[0u8; 12].into(), Payload { msg, aad })
        .ok()
}

/// Encrypts `note` to `recipient`, with an outgoing copy for `sender` (its
/// viewing key; `None`, e.g. for a shield from a public account, leaves the
/// outgoing copy unreadable).
pub fn encrypt_note(
    note: &Note,
    recipient: &ShieldedAddress,
    sender: Option<&ViewingKey>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<EncryptedNote, EncryptError> {
    if note.owner != recipient.paying_key {
        return Err(EncryptError::NotRecipientsNote);
    }
    let mut esk_bytes = [0u8; 32];
    rng.fill_bytes(&mut esk_bytes);
    let esk = StaticSecret::from(esk_bytes);
    let epk = PublicKey::from(&esk).to_bytes();
    let shared = esk.diffie_hellman(&PublicKey::from(recipient.encryption_key));
    if !shared.was_contributory() {
        return Err(EncryptError::LowOrderKey);
    }
    let cm = note.commitment().to_bytes();
    let pt = plaintext(note);

    let k_enc = key(CONTEXT_ENC, &[shared.as_bytes(), &epk, &cm]);
    let mut enc = [0u8; ENC_BYTES];
    enc.copy_from_slice(&seal(&k_enc, &cm, &pt));

    let ovk = match sender {
        Some(vk) => vk.outgoing,
        None => {
            let mut random = [0u8; 32];
            rng.fill_bytes(&mut random);
            random
        }
    };
    let k_out = key(CONTEXT_OUT, &[&ovk, &epk, &cm]);
    let mut out_pt = [0u8; NOTE_PLAINTEXT_BYTES + ADDRESS_BYTES];
    out_pt[..NOTE_PLAINTEXT_BYTES].copy_from_slice(&pt);
    out_pt[NOTE_PLAINTEXT_BYTES..].copy_from_slice(&recipient.to_bytes());
    let mut out = [0u8; OUT_BYTES];
    out.copy_from_slice(&seal(&k_out, &cm, &out_pt));
    Ok(EncryptedNote { epk, enc, out })
}

impl EncryptedNote {
    /// `epk ‖ enc ‖ out`.
    pub fn to_bytes(&self) -> [u8; ENCRYPTED_NOTE_BYTES] {
        let mut bytes = [0u8; ENCRYPTED_NOTE_BYTES];
        bytes[..32].copy_from_slice(&self.epk);
        bytes[32..32 + ENC_BYTES].copy_from_slice(&self.enc);
        bytes[32 + ENC_BYTES..].copy_from_slice(&self.out);
        bytes
    }

    /// Splits [`EncryptedNote::to_bytes`] (any bytes are a ciphertext).
    pub fn from_bytes(bytes: &[u8; ENCRYPTED_NOTE_BYTES]) -> Self {
        let mut note = Self {
            epk: [0u8; 32],
            enc: [0u8; ENC_BYTES],
            out: [0u8; OUT_BYTES],
        };
        note.epk.copy_from_slice(&bytes[..32]);
        note.enc.copy_from_slice(&bytes[32..32 + ENC_BYTES]);
        note.out.copy_from_slice(&bytes[32 + ENC_BYTES..]);
        note
    }
}

impl ViewingKey {
    /// The note sent to this key's address under `cm`, if it is one.
    pub fn decrypt_incoming(&self, cm: &NoteCommitment, encrypted: &EncryptedNote) -> Option<Note> {
        let ivk = StaticSecret::from(self.incoming);
        let shared = ivk.diffie_hellman(&PublicKey::from(encrypted.epk));
        if !shared.was_contributory() {
            return None;
        }
        let cm_bytes = cm.to_bytes();
        let k_enc = key(CONTEXT_ENC, &[shared.as_bytes(), &encrypted.epk, &cm_bytes]);
        let pt = open(&k_enc, &cm_bytes, &encrypted.enc)?;
        let (asset, value, rcm) = parse_plaintext(&pt)?;
        let note = Note {
            asset,
            value,
            owner: self.paying_key,
            rcm,
        };
        (note.commitment() == *cm).then_some(note)
    }

    /// The note this key's owner sent under `cm`, and to whom, if it is one.
    pub fn decrypt_outgoing(
        &self,
        cm: &NoteCommitment,
        encrypted: &EncryptedNote,
    ) -> Option<(Note, ShieldedAddress)> {
        let cm_bytes = cm.to_bytes();
        let k_out = key(CONTEXT_OUT, &[&self.outgoing, &encrypted.epk, &cm_bytes]);
        let pt = open(&k_out, &cm_bytes, &encrypted.out)?;
        let (asset, value, rcm) = parse_plaintext(&pt)?;
        let address: &[u8; ADDRESS_BYTES] = pt.get(NOTE_PLAINTEXT_BYTES..)?.try_into().ok()?;
        let recipient = ShieldedAddress::from_bytes(address).ok()?;
        let note = Note {
            asset,
            value,
            owner: recipient.paying_key,
            rcm,
        };
        (note.commitment() == *cm).then_some((note, recipient))
    }

    /// Trial-decrypts every output; returns the notes this key may see, each
    /// incoming and/or outgoing.
    pub fn scan(&self, outputs: &[(NoteCommitment, EncryptedNote)]) -> Vec<ScannedNote> {
        let mut found = Vec::new();
        for (index, (cm, encrypted)) in outputs.iter().enumerate() {
            if let Some(note) = self.decrypt_incoming(cm, encrypted) {
                found.push(ScannedNote {
                    index,
                    note,
                    direction: Direction::Incoming,
                });
            }
            if let Some((note, recipient)) = self.decrypt_outgoing(cm, encrypted) {
                found.push(ScannedNote {
                    index,
                    note,
                    direction: Direction::Outgoing { recipient },
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SpendingKey;
    use ark_std::rand::SeedableRng;
    use rand_chacha_ark::ChaCha20Rng;

    #[test]
    fn only_the_recipient_decrypts() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let alice = SpendingKey::random(&mut rng).viewing_key();
        let bob = SpendingKey::random(&mut rng).viewing_key();
        let eve = SpendingKey::random(&mut rng).viewing_key();
        let note = Note::new(AssetId(7), 40, bob.address().paying_key, &mut rng);
        let cm = note.commitment();
        let ct = encrypt_note(&note, &bob.address(), Some(&alice), &mut rng).unwrap();
        assert_eq!(bob.decrypt_incoming(&cm, &ct), Some(note));
        assert_eq!(eve.decrypt_incoming(&cm, &ct), None);
        assert_eq!(alice.decrypt_incoming(&cm, &ct), None);
        assert_eq!(eve.decrypt_outgoing(&cm, &ct), None);
        assert_eq!(bob.decrypt_outgoing(&cm, &ct), None);
        assert_eq!(
            alice.decrypt_outgoing(&cm, &ct),
            Some((note, bob.address()))
        );
        // Moved to another commitment, or tampered with: refused.
        let other = Note::new(AssetId(7), 40, bob.address().paying_key, &mut rng).commitment();
        assert_eq!(bob.decrypt_incoming(&other, &ct), None);
        let mut tampered = ct;
        tampered.enc[3] ^= 1;
        assert_eq!(bob.decrypt_incoming(&cm, &tampered), None);
        assert_eq!(EncryptedNote::from_bytes(&ct.to_bytes()), ct);
        // A note must be encrypted to its owner.
        assert_eq!(
            encrypt_note(&note, &eve.address(), None, &mut rng),
            Err(EncryptError::NotRecipientsNote)
        );
        // A low-order encryption key is refused.
        let mut weak = bob.address();
        weak.encryption_key = [0u8; 32];
        assert_eq!(
            encrypt_note(&note, &weak, None, &mut rng),
            Err(EncryptError::LowOrderKey)
        );
    }

    #[test]
    fn viewing_key_sees_exactly_its_notes() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let keys: Vec<_> = (0..4)
            .map(|_| SpendingKey::random(&mut rng).viewing_key())
            .collect();
        let (alice, bob, carol, dave) = (&keys[0], &keys[1], &keys[2], &keys[3]);
        let mut outputs = Vec::new();
        let mut send =
            |from: Option<&ViewingKey>, to: &ViewingKey, value: u64, rng: &mut ChaCha20Rng| {
                let note = Note::new(AssetId(1), value, to.address().paying_key, rng);
                let ct = encrypt_note(&note, &to.address(), from, rng).unwrap();
                outputs.push((note.commitment(), ct));
                note
            };
        let shielded = send(None, alice, 100, &mut rng); // 0: shield to alice
        let to_bob = send(Some(alice), bob, 40, &mut rng); // 1: alice -> bob
        let change = send(Some(alice), alice, 60, &mut rng); // 2: alice's change
        let c_to_d = send(Some(carol), dave, 5, &mut rng); // 3: carol -> dave
        let d_to_c = send(Some(dave), carol, 1, &mut rng); // 4: dave -> carol

        let seen = |vk: &ViewingKey| -> Vec<(usize, u64, bool)> {
            vk.scan(&outputs)
                .into_iter()
                .map(|s| {
                    (
                        s.index,
                        s.note.value,
                        matches!(s.direction, Direction::Incoming),
                    )
                })
                .collect()
        };
        // Alice: her shield and change (in), her payment to bob and her change (out).
        assert_eq!(
            seen(alice),
            vec![
                (0, 100, true),
                (1, 40, false),
                (2, 60, true),
                (2, 60, false)
            ]
        );
        assert_eq!(seen(bob), vec![(1, 40, true)]);
        assert_eq!(seen(carol), vec![(3, 5, false), (4, 1, true)]);
        assert_eq!(seen(dave), vec![(3, 5, true), (4, 1, false)]);
        let scanned = alice.scan(&outputs);
        assert_eq!(scanned[0].note, shielded);
        assert_eq!(scanned[1].note, to_bob);
        assert_eq!(
            scanned[1].direction,
            Direction::Outgoing {
                recipient: bob.address()
            }
        );
        assert_eq!(scanned[2].note, change);
        let _ = (c_to_d, d_to_c);
    }
}

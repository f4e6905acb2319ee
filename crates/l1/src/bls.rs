//! Consensus keys, proofs of possession and finalization certificates in
//! the uncompressed EIP-2537 form: every Fp element 64 bytes (16 zero bytes
//! and 48 big-endian), G1 as x ‖ y, G2 as x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1.
//! commonware encodes points compressed (ZCash format); blst, which
//! commonware is built on, decompresses them.

use anyhow::{anyhow, bail};
use commonware_codec::Encode;
use lakh_rpc::finality::BlockFinalization;
use lakh_types::consensus_key::ConsensusPublicKey;

pub const G1_BYTES: usize = 128;
pub const G2_BYTES: usize = 256;

/// Copies each 48-byte field element of `fields` into a 64-byte slot.
fn pad(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8; 64 * fields.len()];
    for (i, field) in fields.iter().enumerate() {
        out[64 * i + 16..64 * (i + 1)].copy_from_slice(field);
    }
    out
}

/// A compressed G1 point (48 bytes) in EIP-2537 form.
pub fn g1_from_compressed(compressed: &[u8]) -> anyhow::Result<[u8; G1_BYTES]> {
    let key = blst::min_pk::PublicKey::key_validate(compressed)
        .map_err(|e| anyhow!("not a valid G1 key: {e:?}"))?;
    let raw = key.serialize();
    let out = pad(&[&raw[..48], &raw[48..]]);
    out.try_into()
        .map_err(|_| anyhow!("G1 encoding is 128 bytes"))
}

/// A compressed G2 point (96 bytes) in EIP-2537 form. blst writes the
/// imaginary part of each coordinate first; EIP-2537 wants it second.
pub fn g2_from_compressed(compressed: &[u8]) -> anyhow::Result<[u8; G2_BYTES]> {
    let sig = blst::min_pk::Signature::sig_validate(compressed, true)
        .map_err(|e| anyhow!("not a valid G2 point: {e:?}"))?;
    let raw = sig.serialize();
    let out = pad(&[&raw[48..96], &raw[..48], &raw[144..], &raw[96..144]]);
    out.try_into()
        .map_err(|_| anyhow!("G2 encoding is 256 bytes"))
}

/// A consensus key in EIP-2537 form.
pub fn g1_uncompressed(key: &ConsensusPublicKey) -> anyhow::Result<[u8; G1_BYTES]> {
    g1_from_compressed(&key.encode())
}

/// Any commonware G2 value (signature, proof of possession) in EIP-2537 form.
pub fn g2_uncompressed(value: &impl Encode) -> anyhow::Result<[u8; G2_BYTES]> {
    g2_from_compressed(&value.encode())
}

/// A committee's keys, concatenated in committee order, as the light
/// client hashes and reads them.
pub fn keys_uncompressed(keys: &[ConsensusPublicKey]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(keys.len() * G1_BYTES);
    for key in keys {
        out.extend_from_slice(&g1_uncompressed(key)?);
    }
    Ok(out)
}

/// The light client's signer bitmap: `ceil(n / 8)` bytes, member i at bit
/// `i % 8` of byte `i / 8`.
pub fn signer_bitmap(members: usize, signers: impl IntoIterator<Item = u32>) -> Vec<u8> {
    let mut out = vec![0u8; members.div_ceil(8)];
    for signer in signers {
        let i = signer as usize;
        if i < members {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// A finalization certificate of a committee of `members` as the light
/// client takes it: the signer bitmap and the uncompressed aggregate.
pub fn certificate(
    finalization: &BlockFinalization,
    members: usize,
) -> anyhow::Result<(Vec<u8>, [u8; G2_BYTES])> {
    let signers: Vec<u32> = finalization
        .certificate
        .signers
        .iter()
        .map(|p| p.get())
        .collect();
    if signers.iter().any(|s| *s as usize >= members) {
        bail!("the certificate names a signer outside a committee of {members}");
    }
    let signature = g2_from_compressed(&finalization.certificate.signature.encode())?;
    Ok((signer_bitmap(members, signers), signature))
}

//! Proving parameters on disk: what a wallet loads instead of deriving the
//! devnet setup in every process, and what a ceremony's `finalize` writes.
//!
//! ```text
//! magic "LAKHPRMS" | version u16 | tree depth u8 | verifying key digest 32
//! | proving key (arkworks, uncompressed, with its verifying key)
//! ```
//!
//! Loading checks every point (on the curve, in the subgroup), the key's
//! shape against the circuit at the depth, that the recorded digest is the
//! key's, and that the key is the one the caller's chain verifies with. A
//! file the caller wrote itself and checked by its own digest may skip the
//! point and shape checks ([`Parameters::from_own_file_bytes`]).

use ark_bn254::Bn254;
use ark_serialize::{CanonicalSerialize, Compress, Validate};

use crate::proof::{KeyDecodeError, Parameters, VerifyingKey, decode_with};

const MAGIC: &[u8; 8] = b"LAKHPRMS";

/// The parameters file version this build writes and reads.
pub const PARAMS_VERSION: u16 = 1;

const HEADER_BYTES: usize = MAGIC.len() + 2 + 1 + 32;

/// Why a parameters file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Shorter than its header, or not starting with the magic bytes.
    #[error("not a lakh parameters file")]
    NotParameters,
    /// A format version this build does not read.
    #[error("parameters file version {got}, this build reads version {PARAMS_VERSION}")]
    UnsupportedVersion {
        /// The file's version.
        got: u16,
    },
    /// Parameters for another tree depth.
    #[error("the parameters are for tree depth {got}, this chain's is {expected}")]
    WrongDepth {
        /// The file's depth.
        got: u8,
        /// The depth asked for.
        expected: usize,
    },
    /// The proving key does not decode or is for another circuit.
    #[error(transparent)]
    Key(#[from] KeyDecodeError),
    /// The recorded digest is not the key's: a damaged or spliced file.
    #[error("the file's recorded verifying key digest is not its key's (damaged file)")]
    DigestMismatch,
    /// A valid key, but not the one the chain verifies proofs with: proofs
    /// made with it would all be refused.
    #[error(
        "the parameters' verifying key is {file}, the chain verifies with {chain}: proofs made with them would be refused"
    )]
    WrongVerifyingKey {
        /// Hex digest of the file's verifying key.
        file: String,
        /// Hex digest of the chain's.
        chain: String,
    },
}

impl ParamsError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotParameters => "not_parameters",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::WrongDepth { .. } => "wrong_depth",
            Self::Key(e) => e.code(),
            Self::DigestMismatch => "digest_mismatch",
            Self::WrongVerifyingKey { .. } => "wrong_verifying_key",
        }
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<const D: usize> Parameters<D> {
    /// The parameters file.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + self.pk.uncompressed_size());
        out.extend(MAGIC);
        out.extend(PARAMS_VERSION.to_le_bytes());
        out.push(D as u8);
        out.extend(self.verifying_key().digest());
        self.pk
            .serialize_uncompressed(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Decodes a parameters file whose verifying key must have digest
    /// `chain_key` (the chain's). The header is checked first, so a file for
    /// another chain is refused before the key is decoded.
    pub fn from_file_bytes(bytes: &[u8], chain_key: &[u8; 32]) -> Result<Self, ParamsError> {
        let (recorded, key) = check_header::<D>(bytes, chain_key)?;
        let pk: ark_groth16::ProvingKey<Bn254> = decode_with(key, Compress::No, Validate::Yes)?;
        Self::with_recorded_digest(Self::from_proving_key(pk)?, &recorded)
    }

    /// Decodes a parameters file **this process's user wrote itself** and
    /// whose integrity the caller checked (a wallet's cache, under a digest
    /// of its bytes): the header and the verifying key's digest are checked
    /// as in [`Parameters::from_file_bytes`], but the points are not (about
    /// 19,000 G2 subgroup checks at depth 32) and neither is the key's shape
    /// (a synthesis of the circuit). Parameters from anyone else must go
    /// through [`Parameters::from_file_bytes`]: an unchecked point off the
    /// subgroup would make proofs the chain refuses.
    pub fn from_own_file_bytes(bytes: &[u8], chain_key: &[u8; 32]) -> Result<Self, ParamsError> {
        let (recorded, key) = check_header::<D>(bytes, chain_key)?;
        let pk: ark_groth16::ProvingKey<Bn254> = decode_with(key, Compress::No, Validate::No)?;
        let vk = VerifyingKey::new(pk.vk.clone())?;
        Self::with_recorded_digest(Self { pk, vk }, &recorded)
    }

    fn with_recorded_digest(params: Self, recorded: &[u8; 32]) -> Result<Self, ParamsError> {
        if params.verifying_key().digest() != *recorded {
            return Err(ParamsError::DigestMismatch);
        }
        Ok(params)
    }
}

/// The verifying key digest a parameters file for depth `D` records in its
/// header (nothing decoded): what its key must be, checked when it loads.
pub fn recorded_digest<const D: usize>(bytes: &[u8]) -> Result<[u8; 32], ParamsError> {
    if bytes.len() < HEADER_BYTES || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ParamsError::NotParameters);
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != PARAMS_VERSION {
        return Err(ParamsError::UnsupportedVersion { got: version });
    }
    if bytes[10] as usize != D {
        return Err(ParamsError::WrongDepth {
            got: bytes[10],
            expected: D,
        });
    }
    let mut recorded = [0u8; 32];
    recorded.copy_from_slice(&bytes[11..HEADER_BYTES]);
    Ok(recorded)
}

/// Checks a parameters file's header for depth `D` and the chain's key;
/// returns the recorded digest and the encoded proving key.
fn check_header<'a, const D: usize>(
    bytes: &'a [u8],
    chain_key: &[u8; 32],
) -> Result<([u8; 32], &'a [u8]), ParamsError> {
    let recorded = recorded_digest::<D>(bytes)?;
    if recorded != *chain_key {
        return Err(ParamsError::WrongVerifyingKey {
            file: hex(&recorded),
            chain: hex(chain_key),
        });
    }
    Ok((recorded, &bytes[HEADER_BYTES..]))
}

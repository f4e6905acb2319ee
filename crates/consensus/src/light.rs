//! Following the chain of committees from the genesis, as a client that
//! trusts only the genesis file does: the committee of epoch 0 comes from
//! the genesis; the committee of epoch `e + 1` is read from the header of
//! epoch `e`'s last block, accepted once the committee of `e` certified it.
//! One certificate per epoch walks a client to any epoch; then any block's
//! certificate is checked against the committee of its own epoch.

use crate::block::{Header, header_digest};
use commonware_codec::DecodeExt;
use commonware_cryptography::sha256;
use lakh_rpc::{
    finality::{FinalityError, committee_verifier, verify_finality},
    types::{FinalityInfo, Hash32},
};
use lakh_types::{
    Genesis,
    committee::{Committee, epoch_of, last_height},
};

/// Why a certified block was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum LightError {
    #[error("no committee of epoch {0} is known yet")]
    UnknownEpoch(u64),
    #[error("the committee of epoch {epoch} cannot verify: {reason}")]
    Committee { epoch: u64, reason: String },
    #[error(transparent)]
    Certificate(#[from] FinalityError),
    #[error("the header is malformed: {0}")]
    MalformedHeader(String),
    #[error("the header and transaction root hash to {found}, not the certified {certified}")]
    HeaderMismatch { certified: Hash32, found: Hash32 },
    #[error("the header is of height {found} and epoch {epoch}, not height {expected}")]
    WrongHeight {
        expected: u64,
        found: u64,
        epoch: u64,
    },
    #[error("block {height} ends epoch {epoch} but elects no committee of epoch {next}")]
    NoElection { height: u64, epoch: u64, next: u64 },
}

/// The committees of epochs `0..=latest`, each certified by the one before.
#[derive(Clone, Debug)]
pub struct CommitteeChain {
    epoch_blocks: u64,
    committees: Vec<Committee>,
}

impl CommitteeChain {
    /// Starts from the committee the genesis elects for epoch 0.
    pub fn from_genesis(genesis: &Genesis, epoch_zero: Committee) -> Self {
        CommitteeChain {
            epoch_blocks: genesis.staking.epoch_blocks,
            committees: vec![epoch_zero],
        }
    }

    /// The latest epoch whose committee is known.
    pub fn latest_epoch(&self) -> u64 {
        self.committees.len() as u64 - 1
    }

    /// The committee of `epoch`, if known.
    pub fn committee(&self, epoch: u64) -> Option<&Committee> {
        self.committees.get(usize::try_from(epoch).ok()?)
    }

    /// The block whose certificate extends the chain: the last of the
    /// latest known epoch.
    pub fn next_boundary(&self) -> u64 {
        last_height(self.epoch_blocks, self.latest_epoch())
    }

    /// Checks `info`'s certificate against the committee of its epoch, and
    /// that its header and transaction root hash to the certified block.
    pub fn verify(&self, info: &FinalityInfo) -> Result<Header, LightError> {
        let committee = self
            .committee(info.epoch)
            .ok_or(LightError::UnknownEpoch(info.epoch))?;
        let keys = committee.keys().map_err(|reason| LightError::Committee {
            epoch: info.epoch,
            reason,
        })?;
        let verifier = committee_verifier(keys).map_err(|e| LightError::Committee {
            epoch: info.epoch,
            reason: e.to_string(),
        })?;
        verify_finality(info, info.epoch, &verifier)?;
        let header = decode_header(&info.header)?;
        let tx_root = sha256::Digest::from(info.tx_root.0);
        let found = crate::block::hash32(&header_digest(&header, &tx_root));
        if found != info.block_hash {
            return Err(LightError::HeaderMismatch {
                certified: info.block_hash,
                found,
            });
        }
        let height = header.height.get();
        if height != info.height || epoch_of(self.epoch_blocks, height) != info.epoch {
            return Err(LightError::WrongHeight {
                expected: info.height,
                found: height,
                epoch: info.epoch,
            });
        }
        Ok(header)
    }

    /// Accepts the certificate of [`Self::next_boundary`] and learns the
    /// committee its header elects.
    pub fn extend(&mut self, info: &FinalityInfo) -> Result<&Committee, LightError> {
        let epoch = self.latest_epoch();
        let boundary = self.next_boundary();
        if info.height != boundary || info.epoch != epoch {
            return Err(LightError::WrongHeight {
                expected: boundary,
                found: info.height,
                epoch: info.epoch,
            });
        }
        let header = self.verify(info)?;
        let next = header
            .next_committee
            .filter(|c| c.epoch == epoch + 1)
            .ok_or(LightError::NoElection {
                height: boundary,
                epoch,
                next: epoch + 1,
            })?;
        self.committees.push(next);
        Ok(&self.committees[self.committees.len() - 1])
    }
}

fn decode_header(hex_header: &str) -> Result<Header, LightError> {
    let bytes = hex::decode(hex_header).map_err(|e| LightError::MalformedHeader(e.to_string()))?;
    Header::decode(bytes::Bytes::from(bytes))
        .map_err(|e| LightError::MalformedHeader(e.to_string()))
}

//! Client-side check that an account answer is backed by the state root of a
//! finalized block, so a wallet need not trust the node's word for a balance.
//!
//! What this does not check: that `header` itself is finalized. The caller must
//! obtain the header from a source it trusts (or verify its finalization
//! certificate once the RPC exposes one).

use crate::types::{AccountInfo, AccountProof, BlockHeaderInfo, decode_hex};
use lakh_state::{AccountState, StateKey, StateValue};
use lakh_types::{Address, AssetId};
use std::collections::BTreeMap;

/// Why an account proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the answer carries no proof (request it with prove = true)")]
    Missing,
    #[error("proof is for height {proof} but the header is for height {header}")]
    HeightMismatch { proof: u64, header: u64 },
    #[error("proof claims state root {proof} but finalized block {height} has state root {header}")]
    RootMismatch {
        proof: String,
        header: String,
        height: u64,
    },
    #[error("entry {index}: {reason}")]
    BadEntry { index: usize, reason: String },
    #[error("entry {index} proves {key:?}, which is not part of account {address}")]
    ForeignKey {
        index: usize,
        key: String,
        address: Address,
    },
    #[error("entry {index} proves {key:?} a second time")]
    DuplicateEntry { index: usize, key: String },
    #[error(
        "no proven account entry, so nonce and native balance are unproven \
         (an account with nonce 0 and no native balance is stored as absent, and absence cannot be proven yet)"
    )]
    NoAccountEntry,
    #[error("claimed nonce {claimed} but the proven nonce is {proven}")]
    NonceMismatch { claimed: u64, proven: u64 },
    #[error("claimed balance of asset {asset} is {claimed} but the proven balance is {proven}")]
    BalanceMismatch {
        asset: AssetId,
        claimed: u128,
        proven: u128,
    },
    #[error("balance of asset {asset} is listed twice")]
    DuplicateBalance { asset: AssetId },
    #[error("claimed balance of asset {asset} has no proof")]
    UnprovenBalance { asset: AssetId },
}

/// Checks that every claim of `info` (nonce and each listed balance) is proven
/// against `header.state_root` by `lakh_state::proof::verify_entry`.
pub fn verify_account_proof(
    info: &AccountInfo,
    header: &BlockHeaderInfo,
) -> Result<(), ProofError> {
    verify_with(info, header, lakh_state::proof::verify_entry)
}

/// The check itself, with the entry verifier as a parameter so the claim
/// matching can be tested without building real state proofs.
pub(crate) fn verify_with(
    info: &AccountInfo,
    header: &BlockHeaderInfo,
    verify_entry: impl Fn(&[u8; 32], &StateKey, &[u8], &[u8]) -> Result<StateValue, String>,
) -> Result<(), ProofError> {
    let proof = info.proof.as_ref().ok_or(ProofError::Missing)?;
    check_header(proof, header)?;
    let (account, proven_balances) =
        prove_entries(info, proof, &header.state_root.0, verify_entry)?;
    match_claims(info, &account, proven_balances)
}

fn check_header(proof: &AccountProof, header: &BlockHeaderInfo) -> Result<(), ProofError> {
    if proof.height != header.height {
        return Err(ProofError::HeightMismatch {
            proof: proof.height,
            header: header.height,
        });
    }
    if proof.state_root != header.state_root {
        return Err(ProofError::RootMismatch {
            proof: proof.state_root.to_hex(),
            header: header.state_root.to_hex(),
            height: header.height,
        });
    }
    Ok(())
}

/// Verifies every entry of `proof` against `root`: the account entry and
/// the balances proven, each the queried account's and each at most once.
fn prove_entries(
    info: &AccountInfo,
    proof: &AccountProof,
    root: &[u8; 32],
    verify_entry: impl Fn(&[u8; 32], &StateKey, &[u8], &[u8]) -> Result<StateValue, String>,
) -> Result<(AccountState, BTreeMap<AssetId, u128>), ProofError> {
    let mut proven_account = None;
    let mut proven_balances: BTreeMap<AssetId, u128> = BTreeMap::new();
    for (index, entry) in proof.entries.iter().enumerate() {
        let bad = |reason: String| ProofError::BadEntry { index, reason };
        let value_bytes =
            decode_hex(&entry.value_hex).map_err(|e| bad(format!("value_hex {e}")))?;
        let proof_bytes =
            decode_hex(&entry.proof_hex).map_err(|e| bad(format!("proof_hex {e}")))?;
        let foreign = || ProofError::ForeignKey {
            index,
            key: format!("{:?}", entry.key),
            address: info.address,
        };
        let duplicate = || ProofError::DuplicateEntry {
            index,
            key: format!("{:?}", entry.key),
        };
        // Ownership first: a valid proof of someone else's entry proves nothing here.
        match &entry.key {
            StateKey::Account(addr) | StateKey::Balance(addr, _) if *addr != info.address => {
                return Err(foreign());
            }
            StateKey::Account(_) | StateKey::Balance(..) => {}
            _ => return Err(foreign()),
        }
        let value = verify_entry(root, &entry.key, &value_bytes, &proof_bytes).map_err(bad)?;
        match (&entry.key, value) {
            (StateKey::Account(_), StateValue::Account(account)) => {
                if proven_account.replace(account).is_some() {
                    return Err(duplicate());
                }
            }
            (StateKey::Balance(_, asset), StateValue::Balance(amount)) => {
                if *asset == AssetId::NATIVE {
                    return Err(bad("the native balance lives in the account entry".into()));
                }
                if proven_balances.insert(*asset, amount).is_some() {
                    return Err(duplicate());
                }
            }
            (key, value) => {
                return Err(bad(format!("{key:?} cannot hold {value:?}")));
            }
        }
    }

    let account = proven_account.ok_or(ProofError::NoAccountEntry)?;
    Ok((account, proven_balances))
}

/// The answer's nonce and balances must be exactly what was proven.
fn match_claims(
    info: &AccountInfo,
    account: &AccountState,
    mut proven_balances: BTreeMap<AssetId, u128>,
) -> Result<(), ProofError> {
    if account.nonce != info.nonce {
        return Err(ProofError::NonceMismatch {
            claimed: info.nonce,
            proven: account.nonce,
        });
    }
    let mut claimed: BTreeMap<AssetId, u128> = BTreeMap::new();
    for b in &info.balances {
        if claimed.insert(b.asset, b.amount).is_some() {
            return Err(ProofError::DuplicateBalance { asset: b.asset });
        }
    }
    // The native balance is always proven (by the account entry), listed or not.
    let claimed_native = claimed.remove(&AssetId::NATIVE).unwrap_or(0);
    if claimed_native != account.native_balance {
        return Err(ProofError::BalanceMismatch {
            asset: AssetId::NATIVE,
            claimed: claimed_native,
            proven: account.native_balance,
        });
    }
    for (asset, amount) in claimed {
        match proven_balances.remove(&asset) {
            Some(proven) if proven == amount => {}
            Some(proven) => {
                return Err(ProofError::BalanceMismatch {
                    asset,
                    claimed: amount,
                    proven,
                });
            }
            None => return Err(ProofError::UnprovenBalance { asset }),
        }
    }
    // A proven non-zero balance the answer left out is a false claim of zero.
    if let Some((&asset, &proven)) = proven_balances.iter().find(|(_, v)| **v != 0) {
        return Err(ProofError::BalanceMismatch {
            asset,
            claimed: 0,
            proven,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountProof, BalanceInfo, Hash32, ProvenEntry};
    use commonware_codec::Encode;
    use commonware_cryptography::{Hasher, Sha256};
    use lakh_state::AccountState;

    /// Stand-in for the state proof: sha256(root ‖ key digest ‖ value bytes).
    /// It binds all three, as a real proof does, so tampering with any is caught.
    fn fake_proof(root: &[u8; 32], key: &StateKey, value: &[u8]) -> Vec<u8> {
        Sha256::hash(&[root.as_slice(), key.digest().as_ref(), value])
            .as_ref()
            .to_vec()
    }

    fn fake_verify(
        root: &[u8; 32],
        key: &StateKey,
        value: &[u8],
        proof: &[u8],
    ) -> Result<StateValue, String> {
        use commonware_codec::{Copying, DecodeExt};
        if fake_proof(root, key, value) != proof {
            return Err("proof does not match the state root".into());
        }
        StateValue::decode(Copying(value)).map_err(|e| e.to_string())
    }

    const ROOT: [u8; 32] = [7; 32];
    const GOLD: AssetId = AssetId(5);

    fn entry(key: StateKey, value: StateValue, root: &[u8; 32]) -> ProvenEntry {
        let value = value.encode();
        ProvenEntry {
            proof_hex: hex::encode(fake_proof(root, &key, &value)),
            value_hex: hex::encode(&value),
            key,
        }
    }

    fn header() -> BlockHeaderInfo {
        BlockHeaderInfo {
            height: 12,
            hash: Hash32([1; 32]),
            parent: Hash32([2; 32]),
            state_root: Hash32(ROOT),
            proposer: Address([3; 32]),
            view: 14,
            base_fee: 1_000,
            used_units: 5,
            tx_count: 5,
            timestamp_ms: 1_700_000_000_000,
            next_committee: None,
            finalizations: Vec::new(),
            evidence: Vec::new(),
        }
    }

    fn proven_account() -> AccountInfo {
        let address = Address([9; 32]);
        AccountInfo {
            address,
            nonce: 4,
            pending_nonce: None,
            balances: vec![
                BalanceInfo {
                    asset: AssetId::NATIVE,
                    symbol: "LAKH".into(),
                    amount: 1_000_000,
                },
                BalanceInfo {
                    asset: GOLD,
                    symbol: "GOLD".into(),
                    amount: 250,
                },
            ],
            proof: Some(AccountProof {
                height: 12,
                state_root: Hash32(ROOT),
                entries: vec![
                    entry(
                        StateKey::Account(address),
                        StateValue::Account(AccountState {
                            nonce: 4,
                            native_balance: 1_000_000,
                        }),
                        &ROOT,
                    ),
                    entry(
                        StateKey::Balance(address, GOLD),
                        StateValue::Balance(250),
                        &ROOT,
                    ),
                ],
            }),
        }
    }

    fn check(info: &AccountInfo) -> Result<(), ProofError> {
        verify_with(info, &header(), fake_verify)
    }

    #[test]
    fn honest_answer_verifies() {
        check(&proven_account()).unwrap();
    }

    #[test]
    fn missing_proof_is_refused() {
        let mut info = proven_account();
        info.proof = None;
        assert_eq!(check(&info), Err(ProofError::Missing));
    }

    #[test]
    fn proof_for_another_block_is_refused() {
        let mut info = proven_account();
        info.proof.as_mut().unwrap().height = 11;
        assert!(matches!(
            check(&info),
            Err(ProofError::HeightMismatch {
                proof: 11,
                header: 12
            })
        ));
        let mut info = proven_account();
        info.proof.as_mut().unwrap().state_root = Hash32([8; 32]);
        assert!(matches!(check(&info), Err(ProofError::RootMismatch { .. })));
    }

    #[test]
    fn tampered_value_is_refused() {
        let mut info = proven_account();
        let proof = info.proof.as_mut().unwrap();
        // Flip one byte of the encoded balance.
        let mut value = hex::decode(&proof.entries[1].value_hex).unwrap();
        let last = value.len() - 1;
        value[last] ^= 1;
        proof.entries[1].value_hex = hex::encode(value);
        assert!(matches!(
            check(&info),
            Err(ProofError::BadEntry { index: 1, .. })
        ));
    }

    #[test]
    fn proof_against_another_root_is_refused() {
        let mut info = proven_account();
        let other_root = [8; 32];
        let address = info.address;
        info.proof.as_mut().unwrap().entries[0] = entry(
            StateKey::Account(address),
            StateValue::Account(AccountState {
                nonce: 4,
                native_balance: 1_000_000,
            }),
            &other_root,
        );
        assert!(matches!(
            check(&info),
            Err(ProofError::BadEntry { index: 0, .. })
        ));
    }

    #[test]
    fn claims_that_differ_from_proven_values_are_refused() {
        let mut info = proven_account();
        info.nonce = 5;
        assert_eq!(
            check(&info),
            Err(ProofError::NonceMismatch {
                claimed: 5,
                proven: 4
            })
        );

        let mut info = proven_account();
        info.balances[0].amount += 1;
        assert!(matches!(
            check(&info),
            Err(ProofError::BalanceMismatch {
                asset: AssetId::NATIVE,
                ..
            })
        ));

        let mut info = proven_account();
        info.balances[1].amount = 1;
        assert!(matches!(
            check(&info),
            Err(ProofError::BalanceMismatch { asset: GOLD, .. })
        ));

        // Hiding a proven balance is a false claim of zero.
        let mut info = proven_account();
        info.balances.pop();
        assert!(matches!(
            check(&info),
            Err(ProofError::BalanceMismatch {
                asset: GOLD,
                claimed: 0,
                ..
            })
        ));

        // Claiming a balance without its proof.
        let mut info = proven_account();
        info.proof.as_mut().unwrap().entries.pop();
        assert_eq!(
            check(&info),
            Err(ProofError::UnprovenBalance { asset: GOLD })
        );

        let mut info = proven_account();
        info.proof.as_mut().unwrap().entries.remove(0);
        assert_eq!(check(&info), Err(ProofError::NoAccountEntry));
    }

    #[test]
    fn entries_of_other_accounts_are_refused() {
        let mut info = proven_account();
        let stranger = Address([1; 32]);
        info.proof.as_mut().unwrap().entries[1] = entry(
            StateKey::Balance(stranger, GOLD),
            StateValue::Balance(250),
            &ROOT,
        );
        assert!(matches!(
            check(&info),
            Err(ProofError::ForeignKey { index: 1, .. })
        ));
    }

    #[test]
    fn duplicate_entries_and_bad_hex_are_refused() {
        let mut info = proven_account();
        let dup = info.proof.as_ref().unwrap().entries[1].clone();
        info.proof.as_mut().unwrap().entries.push(dup);
        assert!(matches!(
            check(&info),
            Err(ProofError::DuplicateEntry { index: 2, .. })
        ));

        let mut info = proven_account();
        info.proof.as_mut().unwrap().entries[0].proof_hex = "zz".into();
        assert!(matches!(
            check(&info),
            Err(ProofError::BadEntry { index: 0, .. })
        ));
    }

    #[test]
    fn mismatched_value_kind_is_refused() {
        let mut info = proven_account();
        let address = info.address;
        info.proof.as_mut().unwrap().entries[1] = entry(
            StateKey::Balance(address, GOLD),
            StateValue::Symbol(GOLD),
            &ROOT,
        );
        assert!(matches!(
            check(&info),
            Err(ProofError::BadEntry { index: 1, .. })
        ));
    }
}

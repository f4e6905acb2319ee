//! The evidence pool: faults this node's engines saw, kept until a
//! finalized block carries them.
//!
//! Each epoch's engine reports through an [`EvidenceTee`], which hands the
//! fault (unverified, as simplex reports it) to the pool's actor. The actor
//! checks both signatures against that epoch's committee, keeps the
//! evidence once per (epoch, view, signer, fault), at most [`POOL_CAPACITY`]
//! pieces, and writes it to a commonware-storage metadata store
//! (`{prefix}-evidence`) and syncs it before the pool offers it to a
//! proposer: simplex does not persist peers' votes, so evidence not written
//! at once would be lost in a crash. A restart loads the store back.
//!
//! Proposers take pending pieces ([`EvidencePool::pending`]); the pool
//! forgets a piece when a finalized block carries it, or when a proposer
//! finds it no longer punishable (too old, the offender tombstoned).

use crate::block::Scheme;
use crate::evidence::{Evidence, EvidenceKey, MAX_EVIDENCE_BYTES_PER_BLOCK};
use commonware_codec::EncodeSize;
use commonware_consensus::{Reporter, simplex::types::Activity};
use commonware_cryptography::{Hasher, Sha256, sha256};
use commonware_runtime::{Clock, Metrics, Spawner, Storage};
use commonware_storage::metadata::{Config as MetadataConfig, Metadata};
use futures::{StreamExt, channel::mpsc};
use lakh_execution::modules::stake::MAX_OFFENSES_PER_BLOCK;
use lakh_types::modules::stake::Fault;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::{info, warn};

/// Most pieces of evidence the pool keeps.
pub const POOL_CAPACITY: usize = 128;

/// Keys of pieces forgotten (carried by a finalized block, or no longer
/// punishable) remembered so that a late report does not bring them back.
const FORGOTTEN_KEPT: usize = 1024;

/// Reports waiting for the actor; more are dropped (an offender is
/// blocked by its peers after its first fault, so few ever come).
const MAILBOX: usize = 256;

/// What the actor does.
enum Command {
    /// A fault an engine reported, with the committee scheme of its epoch.
    Offer(Box<Evidence>, Arc<Scheme>),
    /// Forget these pieces (and remove them from the store).
    Forget(Vec<EvidenceKey>),
}

#[derive(Default)]
struct Inner {
    pending: BTreeMap<EvidenceKey, Evidence>,
    forgotten: BTreeSet<EvidenceKey>,
}

/// Pending evidence (module docs).
#[derive(Default)]
pub struct EvidencePool {
    inner: Mutex<Inner>,
    actor: OnceLock<mpsc::Sender<Command>>,
}

/// Where a piece is stored: a digest of its key.
fn store_key(key: &EvidenceKey) -> sha256::Digest {
    let fault: u8 = match key.fault {
        Fault::ConflictingNotarize {} => 1,
        Fault::ConflictingFinalize {} => 2,
        Fault::NullifyFinalize {} => 3,
    };
    let mut bytes = Vec::with_capacity(21);
    bytes.extend_from_slice(&key.epoch.to_be_bytes());
    bytes.extend_from_slice(&key.view.to_be_bytes());
    bytes.extend_from_slice(&key.signer.to_be_bytes());
    bytes.push(fault);
    Sha256::hash(&[&bytes])
}

impl EvidencePool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("evidence pool lock")
    }

    /// Up to [`MAX_OFFENSES_PER_BLOCK`] pending pieces within
    /// [`MAX_EVIDENCE_BYTES_PER_BLOCK`], oldest round first, one per
    /// signer and epoch (one proven fault is enough to punish it).
    pub fn pending(&self) -> Vec<Evidence> {
        let inner = self.lock();
        let mut chosen = Vec::new();
        let mut signers = BTreeSet::new();
        let mut bytes = 0;
        for (key, evidence) in inner.pending.iter() {
            if chosen.len() == MAX_OFFENSES_PER_BLOCK {
                break;
            }
            if !signers.insert((key.epoch, key.signer)) {
                continue;
            }
            let size = evidence.encode_size();
            if bytes + size > MAX_EVIDENCE_BYTES_PER_BLOCK {
                break;
            }
            bytes += size;
            chosen.push(evidence.clone());
        }
        chosen
    }

    /// Every pending piece, in key order.
    pub fn all(&self) -> Vec<Evidence> {
        self.lock().pending.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets `keys`: carried by a finalized block, or no longer
    /// punishable. The store follows.
    pub fn forget(&self, keys: Vec<EvidenceKey>) {
        if keys.is_empty() {
            return;
        }
        {
            let mut inner = self.lock();
            for key in &keys {
                inner.pending.remove(key);
                inner.forgotten.insert(*key);
            }
            while inner.forgotten.len() > FORGOTTEN_KEPT {
                inner.forgotten.pop_first();
            }
        }
        if let Some(actor) = self.actor.get() {
            let _ = actor.clone().try_send(Command::Forget(keys));
        }
    }

    /// Hands a reported fault to the actor (dropped if it is not running
    /// or its mailbox is full).
    fn offer(&self, evidence: Evidence, scheme: Arc<Scheme>) {
        let Some(actor) = self.actor.get() else {
            return;
        };
        if actor
            .clone()
            .try_send(Command::Offer(Box::new(evidence), scheme))
            .is_err()
        {
            warn!("evidence mailbox full: a reported fault was dropped");
        }
    }

    /// Keeps `evidence` if it is new and there is room; whether it was.
    fn admit(&self, evidence: &Evidence) -> bool {
        let key = evidence.key();
        let mut inner = self.lock();
        if inner.forgotten.contains(&key)
            || inner.pending.contains_key(&key)
            || inner.pending.len() >= POOL_CAPACITY
        {
            return false;
        }
        inner.pending.insert(key, evidence.clone());
        true
    }

    /// Opens the store under `prefix`, loads what it holds and runs the
    /// actor that verifies and persists reports. Call once per pool.
    pub async fn start<E>(self: &Arc<Self>, context: E, prefix: &str)
    where
        E: Storage + Clock + Metrics + Spawner,
    {
        let (sender, mut receiver) = mpsc::channel(MAILBOX);
        if self.actor.set(sender).is_err() {
            warn!("evidence pool started twice");
            return;
        }
        let store: Result<Metadata<E, sha256::Digest, Evidence>, _> = Metadata::init(
            context.child("store"),
            MetadataConfig {
                partition: format!("{prefix}-evidence"),
                codec_config: (),
            },
        )
        .await;
        let mut store = match store {
            Ok(store) => store,
            Err(e) => panic!("cannot open the evidence store: {e}"),
        };
        let stored: Vec<Evidence> = store.keys().filter_map(|k| store.get(k).cloned()).collect();
        if !stored.is_empty() {
            info!(pieces = stored.len(), "loaded stored evidence");
        }
        {
            let mut inner = self.lock();
            for evidence in stored {
                inner.pending.insert(evidence.key(), evidence);
            }
        }
        // Weak: the pool owns the mailbox, so dropping the pool ends the actor.
        let pool = Arc::downgrade(self);
        context.child("actor").spawn(move |_| async move {
            while let Some(command) = receiver.next().await {
                let Some(pool) = pool.upgrade() else {
                    break;
                };
                match command {
                    Command::Offer(evidence, scheme) => {
                        let key = evidence.key();
                        if !verified(&evidence, &scheme) {
                            warn!(?key, "reported fault does not verify: ignored");
                            continue;
                        }
                        if !pool.admit(&evidence) {
                            continue;
                        }
                        // An operator wants to see a validator misbehave.
                        warn!(?key, "evidence of a consensus fault kept");
                        store.put(store_key(&key), *evidence);
                    }
                    Command::Forget(keys) => {
                        for key in &keys {
                            store.remove(&store_key(key));
                        }
                    }
                }
                store = match store.sync().await {
                    Ok(store) => store,
                    Err(e) => panic!("cannot write the evidence store: {e}"),
                };
            }
        });
    }
}

/// Both signatures of `evidence` verify for a member of `scheme`.
fn verified(evidence: &Evidence, scheme: &Scheme) -> bool {
    use commonware_cryptography::certificate::Scheme as _;
    (evidence.signer() as usize) < scheme.participants().len() && evidence.signatures_verify(scheme)
}

/// Passes the faults an engine reports to the [`EvidencePool`], with the
/// scheme of the engine's epoch to check them against.
#[derive(Clone)]
pub struct EvidenceTee {
    pub pool: Arc<EvidencePool>,
    pub scheme: Arc<Scheme>,
}

impl Reporter for EvidenceTee {
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        let evidence = match activity {
            Activity::ConflictingNotarize(e) => Evidence::ConflictingNotarize(e),
            Activity::ConflictingFinalize(e) => Evidence::ConflictingFinalize(e),
            Activity::NullifyFinalize(e) => Evidence::NullifyFinalize(e),
            _ => return commonware_actor::Feedback::Ok,
        };
        self.pool.offer(evidence, self.scheme.clone());
        commonware_actor::Feedback::Ok
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_consensus::simplex::types::{ConflictingNotarize, Notarize, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::certificate::Scheme as _;
    use commonware_cryptography::{Signer, ed25519};
    use commonware_runtime::{Runner, Supervisor, deterministic};
    use commonware_utils::ordered::BiMap;
    use lakh_types::consensus_key::{
        CONSENSUS_NAMESPACE, consensus_public_key, derive_consensus_key,
    };
    use std::time::Duration;

    /// Signing schemes of a committee of four, in participant order.
    fn schemes() -> Vec<Scheme> {
        let keys: Vec<_> = (1..=4).map(ed25519::PrivateKey::from_seed).collect();
        let map = BiMap::try_from(
            keys.iter()
                .map(|k| {
                    (
                        k.public_key(),
                        consensus_public_key(&derive_consensus_key(k)),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let mut schemes: Vec<Scheme> = keys
            .iter()
            .map(|k| Scheme::signer(CONSENSUS_NAMESPACE, map.clone(), derive_consensus_key(k)))
            .map(Option::unwrap)
            .collect();
        schemes.sort_by_key(|s| s.me().map(|m| m.index().get()));
        schemes
    }

    fn notarize(s: &Scheme, view: u64, block: &[u8]) -> Notarize<Scheme, sha256::Digest> {
        let p = Proposal::new(
            Round::new(Epoch::zero(), View::new(view)),
            View::new(view - 1),
            Sha256::hash(&[block]),
        );
        Notarize::sign(s, p).unwrap()
    }

    fn fault(s: &Scheme, view: u64) -> Activity<Scheme, sha256::Digest> {
        Activity::ConflictingNotarize(ConflictingNotarize::new(
            notarize(s, view, b"a"),
            notarize(s, view, b"b"),
        ))
    }

    #[test]
    fn reported_faults_are_verified_kept_once_and_survive_a_restart() {
        deterministic::Runner::default().start(|context| async move {
            let schemes = schemes();
            let verifier = Arc::new(schemes[0].clone());
            let pool = Arc::new(EvidencePool::default());
            pool.start(context.child("first"), "v0").await;
            let mut tee = EvidenceTee {
                pool: pool.clone(),
                scheme: verifier.clone(),
            };
            tee.report(fault(&schemes[1], 5));
            tee.report(fault(&schemes[1], 5));
            tee.report(fault(&schemes[2], 6));
            // A forged pair: member 3's votes relabelled as member 0's.
            let mut a = notarize(&schemes[3], 7, b"a");
            let mut b = notarize(&schemes[3], 7, b"b");
            a.attestation.signer = schemes[0].me().unwrap().index();
            b.attestation.signer = a.attestation.signer;
            tee.report(Activity::ConflictingNotarize(ConflictingNotarize::new(
                a, b,
            )));
            // Votes are not faults.
            tee.report(Activity::Notarize(notarize(&schemes[1], 8, b"a")));
            context.sleep(Duration::from_millis(100)).await;
            let kept = pool.all();
            let keys: Vec<_> = kept.iter().map(|e| (e.view(), e.signer())).collect();
            assert_eq!(keys, vec![(5, 1), (6, 2)]);
            assert_eq!(pool.pending().len(), 2);

            // The stored copy comes back in a new pool (a restart).
            drop((tee, pool));
            context.sleep(Duration::from_millis(10)).await;
            let reopened = Arc::new(EvidencePool::default());
            reopened.start(context.child("second"), "v0").await;
            assert_eq!(reopened.all(), kept);

            // Carried by a finalized block: forgotten, and not taken back.
            let first = reopened.all()[0].key();
            reopened.forget(vec![first]);
            let mut tee = EvidenceTee {
                pool: reopened.clone(),
                scheme: verifier,
            };
            tee.report(fault(&schemes[1], 5));
            context.sleep(Duration::from_millis(100)).await;
            assert_eq!(reopened.len(), 1);
            let left = reopened.all();
            drop((tee, reopened));
            context.sleep(Duration::from_millis(10)).await;
            let third = Arc::new(EvidencePool::default());
            third.start(context.child("third"), "v0").await;
            assert_eq!(third.all(), left);
        });
    }
}

//! One simplex engine per epoch.
//!
//! A simplex engine votes with one fixed committee in one epoch, so a
//! committee change means a new engine. The committee of epoch `e + 1` is
//! elected by the last block of epoch `e` (its header carries it, see
//! [`crate::block::Header::next_committee`]). When marshal reports that
//! block finalized, [`Epochs`] registers the new committee's scheme with
//! marshal's provider ([`EpochSchemes`]), updates the p2p peer set, starts
//! the engine of `e + 1` from the boundary block, stops the engine of `e`,
//! and only then acknowledges the block: a crash before the acknowledgement
//! re-delivers it on restart, a crash after finds marshal's processed height
//! at the boundary and starts in `e + 1`.
//!
//! The vote, certificate and resolver channels are multiplexed by epoch.
//! A message from a later epoch means this node is behind: it asks marshal
//! for the finalization of its own epoch's last block from that peer, which
//! walks it forward one boundary at a time.
//!
//! A node outside the committee runs the same engines with a verify-only
//! scheme: it follows certificates without voting (a full node).

use crate::block::{Block, Scheme};
use crate::byzantine::{Misbehavior, VoteSender};
use crate::engine::{ConsensusTimeouts, Marshal};
use crate::evidence_pool::{EvidencePool, EvidenceTee};
use crate::participation::{FinalizationTee, RecentFinalizations};
use crate::record_ahead::RecordAhead;
use commonware_consensus::Reporters;
use commonware_consensus::{
    CertifiableAutomaton, Heightable, Relay, Reporter,
    marshal::Update,
    simplex::{
        self, Plan,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        types::{Activity, Context},
    },
    types::{Epoch, Epocher, FixedEpocher, Height, ViewDelta},
};
use commonware_cryptography::{
    Digested, Digestible, Sha256,
    certificate::{Provider, Scoped},
    ed25519, sha256,
};
use commonware_macros::select_loop;
use commonware_p2p::{
    Blocker, Message as P2pMessage, Receiver, Sender,
    utils::mux::{Builder as _, MuxHandle, Muxer, SubReceiver, SubSender},
};
use commonware_parallel::Sequential;
use commonware_runtime::{ContextCell, Handle, buffer::paged::CacheRef, spawn_cell};
use commonware_utils::{
    Acknowledgement, NZDuration, NZUsize, acknowledgement::Exact, channel::mpsc, ordered::BiMap,
    vec::NonEmptyVec,
};
use lakh_types::{
    committee::Committee,
    consensus_key::{CONSENSUS_NAMESPACE, ConsensusPrivateKey},
};
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    num::NonZeroU64,
    sync::{Arc, Mutex},
    time::Duration,
};
use tracing::{debug, info, warn};

/// Epochs whose schemes stay registered below the current one: marshal
/// verifies certificates of blocks it backfills or serves from them.
const RETAINED_EPOCHS: u64 = 4;

/// An epoch's scheme, and whether it signs.
type EpochScheme = (Arc<Scheme>, bool);

/// The consensus scheme of every epoch this node knows, as marshal's
/// certificate provider: signing for epochs whose committee holds this
/// node, verify-only for the others.
#[derive(Clone)]
pub struct EpochSchemes {
    me: ed25519::PublicKey,
    signer: ConsensusPrivateKey,
    schemes: Arc<Mutex<BTreeMap<u64, EpochScheme>>>,
}

impl EpochSchemes {
    pub fn new(me: ed25519::PublicKey, signer: ConsensusPrivateKey) -> Self {
        EpochSchemes {
            me,
            signer,
            schemes: Arc::default(),
        }
    }

    /// Registers `committee` for its epoch (again: the same scheme) and
    /// forgets epochs older than [`RETAINED_EPOCHS`] before it.
    pub fn register(&self, committee: &Committee) -> Result<(), String> {
        let members = committee.keys()?;
        let map = BiMap::try_from(members)
            .map_err(|_| format!("committee of epoch {} repeats a key", committee.epoch))?;
        let entry = if map.keys().position(&self.me).is_some() {
            let scheme = Scheme::signer(CONSENSUS_NAMESPACE, map, self.signer.clone())
                .ok_or("this node's consensus key differs from its registered one")?;
            (Arc::new(scheme), true)
        } else {
            (Arc::new(Scheme::verifier(CONSENSUS_NAMESPACE, map)), false)
        };
        let mut schemes = self.schemes.lock().expect("scheme map lock");
        schemes.insert(committee.epoch, entry);
        let keep_from = committee.epoch.saturating_sub(RETAINED_EPOCHS);
        schemes.retain(|epoch, _| *epoch >= keep_from);
        Ok(())
    }

    /// The scheme of `epoch` (signing or verify-only) and whether it signs.
    pub fn get(&self, epoch: u64) -> Option<(Arc<Scheme>, bool)> {
        self.schemes
            .lock()
            .expect("scheme map lock")
            .get(&epoch)
            .cloned()
    }
}

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = Scheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<Scheme>> {
        let (scheme, signs) = self.get(epoch.get())?;
        Some(if signs {
            Scoped::scheme(scheme)
        } else {
            Scoped::verifier(scheme)
        })
    }

    /// Verify-only epochs also give their scheme: a full node's engine
    /// runs with it.
    fn scheme(&self, epoch: Epoch) -> Option<Arc<Scheme>> {
        self.get(epoch.get()).map(|(scheme, _)| scheme)
    }
}

/// Where the p2p layer learns which peers to keep connected.
pub trait PeerSets: Send + Sync + 'static {
    /// Activates `peers` as set `id` (ids only grow).
    fn track(&self, id: u64, peers: Vec<(ed25519::PublicKey, SocketAddr)>);
}

/// Finalized blocks, forwarded from marshal to [`Epochs`].
#[derive(Clone)]
pub struct EpochsMailbox {
    sender: mpsc::UnboundedSender<(Digested<Block>, Exact)>,
}

impl Reporter for EpochsMailbox {
    type Activity = Update<Block>;

    fn report(&mut self, update: Update<Block>) -> commonware_actor::Feedback {
        if let Update::Block(block, ack) = update
            && self.sender.send((block, ack)).is_err()
        {
            return commonware_actor::Feedback::Closed;
        }
        commonware_actor::Feedback::Ok
    }
}

/// What [`Epochs`] needs besides the channels.
pub struct EpochsConfig<B, A, P> {
    pub schemes: EpochSchemes,
    pub marshal: Marshal,
    /// Marshal's consensus application (automaton, relay and reporter of
    /// every epoch's engine).
    pub application: A,
    pub blocker: B,
    pub peers: P,
    /// Peers kept connected in every epoch besides the committees (the
    /// genesis validators, configured full nodes).
    pub static_peers: Vec<(ed25519::PublicKey, SocketAddr)>,
    pub epoch_blocks: NonZeroU64,
    /// The committee of epoch 0 and the genesis block's digest.
    pub genesis_committee: Committee,
    pub genesis_digest: sha256::Digest,
    pub partition_prefix: String,
    pub timeouts: ConsensusTimeouts,
    pub page_cache: CacheRef,
    /// Where every engine's finalizations go, for proposers to carry.
    pub finalizations: Arc<RecentFinalizations>,
    /// Where every engine's finalizations go, to record their receipts.
    pub record_ahead: RecordAhead,
    /// Where every engine's reported faults go, for proposers to carry.
    pub evidence: Arc<EvidencePool>,
    /// Set only on a validator that misbehaves on purpose
    /// ([`crate::byzantine`]).
    pub byzantine: Option<Misbehavior>,
}

/// The engine of the epoch this node is in.
struct Active {
    epoch: u64,
    committee: Committee,
    handle: Handle<()>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

struct Channels<S: Sender> {
    votes: MuxHandle<S>,
    votes_later: mpsc::Receiver<(u64, P2pMessage<ed25519::PublicKey>)>,
    certificates: MuxHandle<S>,
    certificates_later: mpsc::Receiver<(u64, P2pMessage<ed25519::PublicKey>)>,
    resolver: MuxHandle<S>,
    /// The first epoch's subchannels, registered before the muxers started.
    first: Option<(u64, Registered<S>)>,
}

type Subchannel<S> = (SubSender<S>, SubReceiver<ed25519::PublicKey>);
type Registered<S> = (Subchannel<S>, Subchannel<S>, Subchannel<S>);

/// Runs one simplex engine per epoch (module docs).
pub struct Epochs<E, B, A, P> {
    context: ContextCell<E>,
    cfg: EpochsConfig<B, A, P>,
    epocher: FixedEpocher,
    finalized: Option<mpsc::UnboundedReceiver<(Digested<Block>, Exact)>>,
}

impl<E, B, A, P> Epochs<E, B, A, P>
where
    E: crate::runtime::RuntimeContext,
    B: Blocker<PublicKey = ed25519::PublicKey> + Sync,
    A: CertifiableAutomaton<
            Context = Context<sha256::Digest, ed25519::PublicKey>,
            Digest = sha256::Digest,
        > + Relay<
            Digest = sha256::Digest,
            PublicKey = ed25519::PublicKey,
            Plan = Plan<ed25519::PublicKey>,
        > + Reporter<Activity = Activity<Scheme, sha256::Digest>>
        + Sync,
    P: PeerSets,
{
    /// The actor and the mailbox to install as a marshal reporter.
    pub fn new(context: E, cfg: EpochsConfig<B, A, P>) -> (Self, EpochsMailbox) {
        let (sender, finalized) = mpsc::unbounded_channel();
        let epocher = FixedEpocher::new(cfg.epoch_blocks);
        (
            Epochs {
                context: ContextCell::new(context),
                cfg,
                epocher,
                finalized: Some(finalized),
            },
            EpochsMailbox { sender },
        )
    }

    /// Runs on the vote, certificate and resolver channels until stopped.
    /// Aborting the returned handle stops every engine it started.
    ///
    /// The epoch to start in is found before spawning, so a node's first
    /// engine starts as soon as the rest of the node: votes that reach a
    /// node before its engine registered the epoch's channels are lost.
    pub async fn start<S, R>(
        mut self,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) -> Handle<()>
    where
        S: Sender<PublicKey = ed25519::PublicKey>,
        R: Receiver<PublicKey = ed25519::PublicKey>,
    {
        let start = self.resume().await;
        spawn_cell!(self.context, self.run(start, votes, certificates, resolver))
    }

    async fn run<S, R>(
        mut self,
        start: Option<(Committee, sha256::Digest)>,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) where
        S: Sender<PublicKey = ed25519::PublicKey>,
        R: Receiver<PublicKey = ed25519::PublicKey>,
    {
        let mut finalized = self.finalized.take().expect("run starts once");
        let Some((committee, floor)) = start else {
            warn!("cannot find the boundary block of the recovered epoch; stopping");
            return;
        };
        let Some(mut channels) = self
            .channels(committee.epoch, votes, certificates, resolver)
            .await
        else {
            return;
        };
        let first_epoch = committee.epoch;
        let Some(mut active) = self.enter(committee, floor, None, &mut channels).await else {
            return;
        };
        // Journals a crash or a long absence left behind.
        self.prune_journals(0..first_epoch.saturating_sub(1)).await;
        select_loop! {
            self.context.as_present(),
            on_stopped => {
                debug!("stopping the epoch engines");
            },
            Some((their_epoch, (from, _))) = channels.votes_later.recv() else {
                break;
            } => {
                self.behind(active.epoch, their_epoch, from);
            },
            Some((their_epoch, (from, _))) = channels.certificates_later.recv() else {
                break;
            } => {
                self.behind(active.epoch, their_epoch, from);
            },
            Some((block, ack)) = finalized.recv() else {
                break;
            } => {
                match self.finalized_block(&mut active, block, &mut channels).await {
                    Some(next) => {
                        if let Some(next) = next {
                            active = next;
                        }
                        ack.acknowledge();
                    }
                    None => break,
                }
            },
        }
    }

    /// Multiplexes the three consensus channels by epoch, with `first`'s
    /// subchannels registered before the muxers read anything: the network
    /// buffered messages while the node started, and a message read before
    /// its epoch is registered goes to the backup channel, not the engine.
    async fn channels<S, R>(
        &self,
        first: u64,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) -> Option<Channels<S>>
    where
        S: Sender<PublicKey = ed25519::PublicKey>,
        R: Receiver<PublicKey = ed25519::PublicKey>,
    {
        let (votes_mux, mut votes, votes_later) =
            Muxer::builder(self.context.child("votes_mux"), votes.0, votes.1)
                .with_backup()
                .build();
        let (certificates_mux, mut certificates, certificates_later) = Muxer::builder(
            self.context.child("certificates_mux"),
            certificates.0,
            certificates.1,
        )
        .with_backup()
        .build();
        let (resolver_mux, mut resolver) =
            Muxer::new(self.context.child("resolver_mux"), resolver.0, resolver.1);
        // A muxer serves registrations before network messages: polling
        // each registration once queues it ahead of the buffered traffic.
        let mut v = Box::pin(votes.register(first));
        let mut c = Box::pin(certificates.register(first));
        let mut r = Box::pin(resolver.register(first));
        let _ = futures::poll!(&mut v);
        let _ = futures::poll!(&mut c);
        let _ = futures::poll!(&mut r);
        votes_mux.start();
        certificates_mux.start();
        resolver_mux.start();
        let registered = (v.await.ok()?, c.await.ok()?, r.await.ok()?);
        Some(Channels {
            votes,
            votes_later,
            certificates,
            certificates_later,
            resolver,
            first: Some((first, registered)),
        })
    }

    /// The epoch to start in after a restart (epoch 0 on a new node): the
    /// one after marshal's processed height, with its committee and floor.
    async fn resume(&self) -> Option<(Committee, sha256::Digest)> {
        let next = self
            .cfg
            .marshal
            .get_processed()
            .await
            .map_or(Height::zero(), |p| p.height().next());
        let epoch = self.epocher.containing(next)?.epoch().get();
        if epoch == 0 {
            return Some((self.cfg.genesis_committee.clone(), self.cfg.genesis_digest));
        }
        let boundary = self.epocher.last(Epoch::new(epoch - 1))?;
        let block = self.cfg.marshal.get_block(boundary).await?;
        let committee = block.inner().header.next_committee.clone()?;
        Some((committee, block.digest()))
    }

    /// A peer sends traffic of a later epoch: fetch the finalization of
    /// this epoch's last block from it.
    fn behind(&self, ours: u64, theirs: u64, from: ed25519::PublicKey) {
        if theirs <= ours {
            return;
        }
        if let Some(last) = self.epocher.last(Epoch::new(ours)) {
            debug!(
                ours,
                theirs, "peer is in a later epoch: fetching our boundary"
            );
            self.cfg
                .marshal
                .hint_finalized(last, NonEmptyVec::new(from));
        }
    }

    /// Handles a finalized block: `Some(Some(next))` when it was the last
    /// of the active epoch and the next one started, `Some(None)` for any
    /// other block, `None` when the node must stop.
    async fn finalized_block<S>(
        &self,
        active: &mut Active,
        block: Digested<Block>,
        channels: &mut Channels<S>,
    ) -> Option<Option<Active>>
    where
        S: Sender<PublicKey = ed25519::PublicKey>,
    {
        let height = block.inner().height();
        let last = self.epocher.last(Epoch::new(active.epoch))?;
        if height != last {
            return Some(None);
        }
        let Some(committee) = block.inner().header.next_committee.clone() else {
            warn!(%height, "boundary block carries no committee; stopping");
            return None;
        };
        let next = self
            .enter(committee, block.digest(), Some(&active.committee), channels)
            .await?;
        if let Some(stale) = next.epoch.checked_sub(2) {
            self.prune_journals(stale..stale + 1).await;
        }
        Some(Some(next))
    }

    /// Starts the engine of `committee.epoch` from the block `floor`.
    async fn enter<S>(
        &self,
        committee: Committee,
        floor: sha256::Digest,
        previous: Option<&Committee>,
        channels: &mut Channels<S>,
    ) -> Option<Active>
    where
        S: Sender<PublicKey = ed25519::PublicKey>,
    {
        let epoch = committee.epoch;
        if let Err(e) = self.cfg.schemes.register(&committee) {
            warn!(epoch, error = %e, "cannot use the elected committee; stopping");
            return None;
        }
        let (scheme, signs) = self.cfg.schemes.get(epoch)?;
        // The network starts with the genesis peer set as set 0 (seeded by
        // whoever built it); a new set replaces it only when epochs change.
        if epoch > 0 {
            self.track_peers(epoch, &committee, previous);
        }
        let t = &self.cfg.timeouts;
        let engine = simplex::Engine::new(
            self.context.child("simplex").with_attribute("epoch", epoch),
            simplex::Config {
                scheme: scheme.as_ref().clone(),
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.cfg.blocker.clone(),
                automaton: self.cfg.application.clone(),
                relay: self.cfg.application.clone(),
                reporter: Reporters::from((
                    self.cfg.application.clone(),
                    Reporters::from((
                        Reporters::from((
                            FinalizationTee(self.cfg.finalizations.clone()),
                            self.cfg.record_ahead.clone(),
                        )),
                        EvidenceTee {
                            pool: self.cfg.evidence.clone(),
                            scheme: scheme.clone(),
                        },
                    )),
                )),
                strategy: Sequential,
                partition: self.journal_partition(epoch),
                mailbox_size: NZUsize!(1024),
                epoch: Epoch::new(epoch),
                floor: simplex::config::Floor::Genesis(floor),
                replay_buffer: crate::engine::REPLAY_BUFFER,
                write_buffer: crate::engine::IO_BUFFER,
                page_cache: self.cfg.page_cache.clone(),
                leader_timeout: t.leader_timeout,
                certification_timeout: t.certification_timeout,
                timeout_retry: t.timeout_retry,
                view_retention: ViewDelta::new(256),
                skip: SkipPolicy::Enabled {
                    timeout: Duration::from_secs(5),
                    budget: simplex::SkipBudget::Participants,
                },
                fetch_timeout: NZDuration!(t.fetch_timeout),
                fetch_retry_delay: Duration::from_millis(500),
                forward: ForwardPolicy::Disabled,
                // Votes stay until their round is pruned, so a conflicting
                // vote that arrives after its round's certificate still
                // yields evidence (not only a block of its sender): at
                // most three votes per member and retained view, about
                // 13 MB at 100 members and 256 views.
                track_historical_votes: true,
            },
        );
        let (votes, certificates, resolver) = match channels.first.take() {
            Some((first, registered)) if first == epoch => registered,
            _ => (
                channels.votes.register(epoch).await.ok()?,
                channels.certificates.register(epoch).await.ok()?,
                channels.resolver.register(epoch).await.ok()?,
            ),
        };
        // A misbehaving validator signs its extra votes with this epoch's
        // scheme; a verify-only one has no votes to corrupt.
        let byzantine = self
            .cfg
            .byzantine
            .filter(|_| signs)
            .map(|how| (how, scheme.clone()));
        if let Some((how, _)) = byzantine {
            warn!(epoch, %how, "this validator misbehaves on purpose");
        }
        let votes = (VoteSender::new(votes.0, byzantine), votes.1);
        let handle = engine.start(votes, certificates, resolver);
        info!(
            epoch,
            members = committee.members.len(),
            signs,
            "entered epoch"
        );
        Some(Active {
            epoch,
            committee,
            handle,
        })
    }

    /// Removes the simplex journals of `epochs`. A journal is read only by
    /// its own epoch's engine, which stopped at least an epoch ago; the
    /// previous epoch's is kept, its engine having stopped only just now.
    async fn prune_journals(&self, epochs: std::ops::Range<u64>) {
        for epoch in epochs {
            let partition = self.journal_partition(epoch);
            match self.context.as_present().remove(&partition, None).await {
                Ok(()) => debug!(epoch, "removed the simplex journal of an old epoch"),
                Err(commonware_runtime::Error::PartitionMissing(_)) => {}
                Err(e) => warn!(epoch, error = %e, "cannot remove an old epoch's journal"),
            }
        }
    }

    fn journal_partition(&self, epoch: u64) -> String {
        format!("{}-simplex-{epoch}", self.cfg.partition_prefix)
    }

    /// Keeps connected: the static peers, the previous committee (peers
    /// catching up fetch its last blocks) and the new one.
    fn track_peers(&self, epoch: u64, committee: &Committee, previous: Option<&Committee>) {
        let mut peers: BTreeMap<ed25519::PublicKey, SocketAddr> =
            self.cfg.static_peers.iter().cloned().collect();
        for c in previous.into_iter().chain(Some(committee)) {
            for m in c.members.iter() {
                if let Ok(pk) = lakh_types::address::parse_public_key(&m.identity.to_hex()) {
                    peers.insert(pk, m.p2p_address);
                }
            }
        }
        self.cfg.peers.track(epoch, peers.into_iter().collect());
    }
}

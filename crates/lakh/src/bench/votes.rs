//! `lakh bench votes`: what consensus signatures cost on this machine, for
//! the BLS multisignature scheme lakh votes with and the ed25519 scheme it
//! used before, at a few committee sizes.
//!
//! Per view a member signs two votes (notarize, finalize), checks a quorum
//! of each, assembles or receives two certificates and checks them; the
//! report gives each of those operations and their sum per view.

use anyhow::{Result, bail};
use commonware_codec::Encode;
use commonware_consensus::{
    simplex::{
        scheme::ed25519 as ed_scheme,
        types::{Notarization, Notarize, Proposal, Subject},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::{Hasher, Sha256, Signer, ed25519, sha256};
use commonware_parallel::Sequential;
use commonware_utils::{non_empty, ordered::BiMap, ordered::Set};
use lakh_rpc::finality::Scheme as BlsScheme;
use lakh_types::consensus_key::{CONSENSUS_NAMESPACE, consensus_public_key, derive_consensus_key};
use serde::Serialize;
use std::time::Instant;

/// Largest committee measured (the election's cap).
const MAX_MEMBERS: usize = lakh_types::committee::MAX_COMMITTEE_SIZE;

#[derive(clap::Args, Debug)]
pub struct VotesArgs {
    /// Committee sizes to measure
    #[arg(long, value_delimiter = ',', default_values_t = vec![4, 100])]
    pub members: Vec<usize>,
    /// Repetitions of each measurement (the median is reported)
    #[arg(long, default_value_t = 21)]
    pub repeats: usize,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

/// Microseconds of each operation for one scheme and committee size.
#[derive(Serialize)]
struct Costs {
    scheme: &'static str,
    members: usize,
    quorum: usize,
    sign_vote_us: f64,
    verify_quorum_votes_us: f64,
    assemble_certificate_us: f64,
    verify_certificate_us: f64,
    certificate_bytes: usize,
    /// Two of each of the above (notarize and finalize).
    per_view_us: f64,
}

pub fn run(args: VotesArgs) -> Result<()> {
    if args.members.iter().any(|m| *m < 1 || *m > MAX_MEMBERS) || args.repeats == 0 {
        bail!("--members must be 1..={MAX_MEMBERS} and --repeats at least 1");
    }
    let mut rows = Vec::new();
    for &n in &args.members {
        rows.push(measure::<BlsScheme>(
            "bls12381_multisig",
            n,
            args.repeats,
            bls_signers(n),
        ));
        rows.push(measure::<ed_scheme::Scheme>(
            "ed25519",
            n,
            args.repeats,
            ed_signers(n),
        ));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<18} {:>7} {:>6} {:>9} {:>13} {:>10} {:>10} {:>10} {:>11}",
        "scheme",
        "members",
        "quorum",
        "sign µs",
        "verify q µs",
        "assemble",
        "verify cert",
        "cert B",
        "per view µs"
    );
    for r in &rows {
        println!(
            "{:<18} {:>7} {:>6} {:>9.1} {:>13.1} {:>10.1} {:>10.1} {:>10} {:>11.1}",
            r.scheme,
            r.members,
            r.quorum,
            r.sign_vote_us,
            r.verify_quorum_votes_us,
            r.assemble_certificate_us,
            r.verify_certificate_us,
            r.certificate_bytes,
            r.per_view_us
        );
    }
    Ok(())
}

fn identities(n: usize) -> Vec<ed25519::PrivateKey> {
    let mut keys: Vec<_> = (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
    keys.sort_by_key(|k| k.public_key());
    keys
}

fn bls_signers(n: usize) -> Vec<BlsScheme> {
    let keys = identities(n);
    let members: Vec<_> = keys
        .iter()
        .map(|k| {
            (
                k.public_key(),
                consensus_public_key(&derive_consensus_key(k)),
            )
        })
        .collect();
    let map = BiMap::try_from(members).expect("distinct keys");
    keys.iter()
        .map(|k| {
            BlsScheme::signer(CONSENSUS_NAMESPACE, map.clone(), derive_consensus_key(k))
                .expect("a member")
        })
        .collect()
}

fn ed_signers(n: usize) -> Vec<ed_scheme::Scheme> {
    let keys = identities(n);
    let set = Set::try_from(keys.iter().map(|k| k.public_key()).collect::<Vec<_>>())
        .expect("distinct keys");
    keys.iter()
        .map(|k| {
            ed_scheme::Scheme::signer(CONSENSUS_NAMESPACE, set.clone(), k.clone())
                .expect("a member")
        })
        .collect()
}

fn proposal() -> Proposal<sha256::Digest> {
    Proposal::new(
        Round::new(Epoch::zero(), View::new(2)),
        View::new(1),
        Sha256::hash(&[b"a block"]),
    )
}

/// Median of `repeats` timings of `f`, in microseconds.
fn median_us(repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn measure<S>(name: &'static str, n: usize, repeats: usize, signers: Vec<S>) -> Costs
where
    S: commonware_consensus::simplex::scheme::Scheme<sha256::Digest>,
{
    let quorum = n - (n - 1) / 3;
    let votes: Vec<Notarize<S, sha256::Digest>> = signers[..quorum]
        .iter()
        .map(|s| Notarize::sign(s, proposal()).expect("a signer"))
        .collect();
    let sign_vote_us = median_us(repeats, || {
        std::hint::black_box(Notarize::sign(&signers[0], proposal()));
    });
    let mut rng = rand::rng();
    // As simplex checks votes: a quorum in one batch.
    let p = proposal();
    let verify_quorum_votes_us = median_us(repeats, || {
        let checked = signers[0].verify_attestations::<_, sha256::Digest, _>(
            &mut rng,
            Subject::Notarize { proposal: &p },
            votes.iter().map(|v| v.attestation.clone()),
            &Sequential,
        );
        assert!(checked.invalid.is_empty() && checked.verified.len() == quorum);
    });
    let assemble = || {
        Notarization::from_notarizes(&signers[0], non_empty![@votes.iter()], &Sequential)
            .expect("a quorum")
    };
    let assemble_certificate_us = median_us(repeats, || {
        std::hint::black_box(assemble());
    });
    let certificate = assemble();
    let verify_certificate_us = median_us(repeats, || {
        assert!(certificate.verify(&mut rng, &signers[0], &Sequential));
    });
    Costs {
        scheme: name,
        members: n,
        quorum,
        sign_vote_us,
        verify_quorum_votes_us,
        assemble_certificate_us,
        verify_certificate_us,
        certificate_bytes: certificate.certificate.encode().len(),
        per_view_us: 2.0
            * (sign_vote_us
                + verify_quorum_votes_us
                + assemble_certificate_us
                + verify_certificate_us),
    }
}

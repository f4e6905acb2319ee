//! `lakh shielded ceremony`: the multi-party setup of the shielded pool's
//! Groth16 parameters for the transfer circuit at the chain's tree depth
//! (`lakh_shielded::ceremony`; docs/modules/shielded.md, "Ceremony").
//!
//! A coordinator runs `init`, passes the transcript to each phase-1
//! contributor in turn (`contribute`), runs `phase2`, passes it to each
//! phase-2 contributor, and runs `finalize`. Anyone can `verify` any
//! transcript; each contributor checks that the hash it published is in
//! the final one.

use crate::wallet::{CodedError, print_json_error};
use anyhow::Context;
use lakh_shielded::ceremony::{CeremonyError, CircuitShape, Receipt, Transcript, contribution_rng};
use lakh_shielded::params::{ParamsError, recorded_digest};
use lakh_shielded::{Parameters, TREE_DEPTH};
use lakh_types::modules::shielded::ShieldedGenesis;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest transcript file read (the format's own bounds allow less).
const MAX_TRANSCRIPT_BYTES: u64 = 1 << 30;
/// Most bytes of `--entropy`.
const MAX_ENTROPY_BYTES: usize = 4096;
/// Largest parameters file read (the depth-32 one is about 8 MB).
pub(crate) const MAX_PARAMS_BYTES: u64 = 64 << 20;

/// The genesis section that makes a chain verify with the key of the
/// finalized parameters file at `path` (`lakh genesis --shielded-params`),
/// after loading the file with every check.
pub(crate) fn genesis_section(path: &Path) -> anyhow::Result<ShieldedGenesis> {
    let bytes = read_bounded(path, MAX_PARAMS_BYTES)?;
    let refused = |e: ParamsError| CodedError::new(e.code(), format!("{}: {e}", path.display()));
    let recorded = recorded_digest::<TREE_DEPTH>(&bytes).map_err(refused)?;
    let params = Parameters::<TREE_DEPTH>::from_file_bytes(&bytes, &recorded).map_err(refused)?;
    Ok(ShieldedGenesis::with_key(
        &params.verifying_key().to_bytes(),
    ))
}

#[derive(clap::Args, Debug)]
pub struct ShieldedArgs {
    #[command(subcommand)]
    command: ShieldedCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ShieldedCommand {
    /// The multi-party setup ceremony of the shielded pool's parameters
    #[command(subcommand)]
    Ceremony(CeremonyCommand),
}

#[derive(clap::Subcommand, Debug)]
enum CeremonyCommand {
    /// Start phase 1 (powers of tau) with no contribution yet
    Init {
        /// Transcript to write
        #[arg(long)]
        out: PathBuf,
        /// log2 of the domain [default: the transfer circuit's]
        #[arg(long)]
        log_domain: Option<u8>,
        #[arg(long)]
        json: bool,
    },
    /// Verify the transcript, add your contribution to its current phase
    /// (fresh secrets from the OS and --entropy, overwritten after use) and
    /// write the result; publish the hash it prints
    Contribute {
        /// Transcript to contribute to
        #[arg(long)]
        transcript: PathBuf,
        /// Transcript to write
        #[arg(long)]
        out: PathBuf,
        /// Extra entropy mixed with the OS's (typed text, dice rolls)
        #[arg(long)]
        entropy: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Verify phase 1 and start phase 2 for the transfer circuit
    Phase2 {
        #[arg(long)]
        transcript: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Re-check a whole transcript from the start
    Verify {
        #[arg(long)]
        transcript: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Verify the transcript and write its proving parameters (proving and
    /// verifying key), the file `lakh wallet shielded --params` takes
    Finalize {
        #[arg(long)]
        transcript: PathBuf,
        /// Parameters file to write
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

impl CeremonyCommand {
    fn json(&self) -> bool {
        match self {
            Self::Init { json, .. }
            | Self::Contribute { json, .. }
            | Self::Phase2 { json, .. }
            | Self::Verify { json, .. }
            | Self::Finalize { json, .. } => *json,
        }
    }
}

#[derive(Serialize)]
struct ContributionOut {
    phase: u8,
    index: usize,
    hash: String,
}

impl From<&Receipt> for ContributionOut {
    fn from(r: &Receipt) -> Self {
        Self {
            phase: r.phase,
            index: r.index,
            hash: hex::encode(r.hash),
        }
    }
}

#[derive(Serialize)]
struct InitOut {
    transcript: PathBuf,
    log_domain: u8,
    bytes: usize,
    init_ms: u64,
}

#[derive(Serialize)]
struct ContributeOut {
    transcript: PathBuf,
    contribution: ContributionOut,
    bytes: usize,
    verify_ms: u64,
    contribute_ms: u64,
}

#[derive(Serialize)]
struct Phase2Out {
    transcript: PathBuf,
    circuit: String,
    constraints: usize,
    domain_size: usize,
    bytes: usize,
    verify_ms: u64,
    transition_ms: u64,
}

#[derive(Serialize)]
struct VerifyOut {
    log_domain: u8,
    phase: u8,
    circuit: Option<String>,
    contributions: Vec<ContributionOut>,
    read_ms: u64,
    verify_ms: u64,
}

#[derive(Serialize)]
struct FinalizeOut {
    params: PathBuf,
    verifying_key: String,
    bytes: usize,
    finalize_ms: u64,
}

/// What a command prints: JSON, or text.
struct Printed {
    json: serde_json::Value,
    text: String,
}

pub fn run(args: ShieldedArgs) -> anyhow::Result<()> {
    let ShieldedCommand::Ceremony(cmd) = args.command;
    let as_json = cmd.json();
    match execute(cmd) {
        Ok(out) if as_json => println!("{}", serde_json::to_string_pretty(&out.json)?),
        Ok(out) => print!("{}", out.text),
        Err(e) => {
            if as_json {
                print_json_error(&e)?;
            }
            return Err(e);
        }
    }
    Ok(())
}

fn coded(e: CeremonyError) -> anyhow::Error {
    CodedError::new(e.code(), e.to_string()).into()
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

fn circuit() -> anyhow::Result<CircuitShape> {
    CircuitShape::transfer::<TREE_DEPTH>().map_err(coded)
}

fn read_transcript(path: &Path) -> anyhow::Result<Transcript> {
    let bytes = read_bounded(path, MAX_TRANSCRIPT_BYTES)?;
    Transcript::from_bytes(&bytes)
        .map_err(coded)
        .with_context(|| format!("reading {}", path.display()))
}

/// Reads `path` if it holds at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > limit {
        return Err(CodedError::new(
            "file_too_large",
            format!("{} is {size} bytes, the limit is {limit}", path.display()),
        )
        .into());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory, so `path` is either the old file or the whole new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn execute(cmd: CeremonyCommand) -> anyhow::Result<Printed> {
    match cmd {
        CeremonyCommand::Init {
            out, log_domain, ..
        } => init(out, log_domain),
        CeremonyCommand::Contribute {
            transcript,
            out,
            entropy,
            ..
        } => contribute(&transcript, out, entropy.as_deref()),
        CeremonyCommand::Phase2 {
            transcript, out, ..
        } => phase2(&transcript, out),
        CeremonyCommand::Verify { transcript, .. } => verify(&transcript),
        CeremonyCommand::Finalize {
            transcript, out, ..
        } => finalize(&transcript, out),
    }
}

fn printed(json: &impl Serialize, text: String) -> anyhow::Result<Printed> {
    Ok(Printed {
        json: serde_json::to_value(json)?,
        text,
    })
}

fn init(out: PathBuf, log_domain: Option<u8>) -> anyhow::Result<Printed> {
    let started = Instant::now();
    let log_domain = match log_domain {
        Some(log) => log,
        None => circuit()?.log_domain(),
    };
    let bytes = Transcript::new(log_domain).map_err(coded)?.to_bytes();
    write_atomically(&out, &bytes)?;
    let result = InitOut {
        transcript: out,
        log_domain,
        bytes: bytes.len(),
        init_ms: ms(started),
    };
    let text = format!(
        "phase 1 started: domain 2^{log_domain}, {} bytes, written to {} ({} ms)\n",
        result.bytes,
        result.transcript.display(),
        result.init_ms
    );
    printed(&result, text)
}

fn contribute(path: &Path, out: PathBuf, entropy: Option<&str>) -> anyhow::Result<Printed> {
    let entropy = entropy.unwrap_or_default();
    if entropy.len() > MAX_ENTROPY_BYTES {
        return Err(CodedError::new(
            "entropy_too_long",
            format!("--entropy takes at most {MAX_ENTROPY_BYTES} bytes"),
        )
        .into());
    }
    let mut transcript = read_transcript(path)?;
    eprintln!("verifying {} ...", path.display());
    let started = Instant::now();
    transcript.verify(&circuit()?).map_err(coded)?;
    let verify_ms = ms(started);
    eprintln!(
        "verified in {verify_ms} ms; contributing to phase {} ...",
        transcript.phase()
    );
    let started = Instant::now();
    let receipt = {
        let mut rng = contribution_rng(rand::random(), entropy.as_bytes());
        transcript.contribute(&mut rng).map_err(coded)?
    };
    let contribute_ms = ms(started);
    let bytes = transcript.to_bytes();
    write_atomically(&out, &bytes)?;
    let result = ContributeOut {
        transcript: out,
        contribution: ContributionOut::from(&receipt),
        bytes: bytes.len(),
        verify_ms,
        contribute_ms,
    };
    let text = format!(
        "phase {} contribution #{} written to {}\nverify {} ms, contribute {} ms\npublish this hash: {}\n",
        receipt.phase,
        receipt.index,
        result.transcript.display(),
        verify_ms,
        contribute_ms,
        result.contribution.hash
    );
    printed(&result, text)
}

fn phase2(path: &Path, out: PathBuf) -> anyhow::Result<Printed> {
    let mut transcript = read_transcript(path)?;
    let circuit = circuit()?;
    let started = Instant::now();
    transcript.verify(&circuit).map_err(coded)?;
    let verify_ms = ms(started);
    eprintln!("phase 1 verified in {verify_ms} ms; computing the circuit's queries ...");
    let started = Instant::now();
    transcript.begin_phase2(&circuit).map_err(coded)?;
    let transition_ms = ms(started);
    let bytes = transcript.to_bytes();
    write_atomically(&out, &bytes)?;
    let result = Phase2Out {
        transcript: out,
        circuit: hex::encode(circuit.digest()),
        constraints: circuit.constraints(),
        domain_size: circuit.domain_size(),
        bytes: bytes.len(),
        verify_ms,
        transition_ms,
    };
    let text = format!(
        "phase 2 started for circuit {} ({} constraints, domain {}), written to {}\nverify {} ms, transition {} ms\n",
        result.circuit,
        result.constraints,
        result.domain_size,
        result.transcript.display(),
        verify_ms,
        transition_ms
    );
    printed(&result, text)
}

fn verify(path: &Path) -> anyhow::Result<Printed> {
    let started = Instant::now();
    let transcript = read_transcript(path)?;
    let read_ms = ms(started);
    let started = Instant::now();
    let verified = transcript.verify(&circuit()?).map_err(coded)?;
    let result = VerifyOut {
        log_domain: verified.log_domain,
        phase: transcript.phase(),
        circuit: verified.circuit.map(hex::encode),
        contributions: verified.contributions.iter().map(Into::into).collect(),
        read_ms,
        verify_ms: ms(started),
    };
    let mut text = format!(
        "valid transcript: domain 2^{}, phase {}, {} contributions (read {} ms, verify {} ms)\n",
        result.log_domain,
        result.phase,
        result.contributions.len(),
        read_ms,
        result.verify_ms
    );
    for c in &result.contributions {
        text.push_str(&format!("  phase {} #{}  {}\n", c.phase, c.index, c.hash));
    }
    printed(&result, text)
}

fn finalize(path: &Path, out: PathBuf) -> anyhow::Result<Printed> {
    let transcript = read_transcript(path)?;
    let started = Instant::now();
    let pk = transcript.finalize(&circuit()?).map_err(coded)?;
    let params = Parameters::<TREE_DEPTH>::from_proving_key(pk)
        .map_err(|e| CodedError::new(e.code(), e.to_string()))?;
    let finalize_ms = ms(started);
    let bytes = params.to_file_bytes();
    write_atomically(&out, &bytes)?;
    let result = FinalizeOut {
        params: out,
        verifying_key: hex::encode(params.verifying_key().digest()),
        bytes: bytes.len(),
        finalize_ms,
    };
    let text = format!(
        "parameters written to {} ({} bytes), verifying key {}\nverify + finalize {} ms\n",
        result.params.display(),
        result.bytes,
        result.verifying_key,
        finalize_ms
    );
    printed(&result, text)
}

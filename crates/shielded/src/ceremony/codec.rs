//! The transcript file. All integers little-endian, points uncompressed
//! (arkworks' encoding: G1 64 bytes, G2 128), every size bounded before
//! anything is allocated:
//!
//! ```text
//! magic "LAKHCRMY" | version u16 | log_domain u8
//! phase-1 count u32 | count × (previous hash 32 | [τ]₁ [α]₁ [β]₁ | 3 × (S₁ S_x₁ R_x₂))
//! [τ^i]₁ × (2n−1) | [τ^i]₂ × n | [ατ^i]₁ × n | [βτ^i]₁ × n | [β]₂
//! phase 2? u8 (0 or 1), then if 1:
//!   circuit digest 32 | instance variables u32 | witness variables u32 | circuit log_domain u8
//!   a₁ × m | b₁ × m | b₂ × m | γ_abc₁ × instance
//!   phase-2 count u32 | count × (previous hash 32 | [δ]₁ | S₁ S_x₁ R_x₂)
//!   [δ]₁ | [δ]₂ | L₁ × witness | H₁ × (2^circuit log_domain − 1)
//! ```

use ark_bn254::{G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_serialize::{CanonicalSerialize, Compress, Validate};

use super::phase1::{Accumulator, Phase1Contribution};
use super::phase2::{Phase2, Phase2Contribution};
use super::pok::Pok;
use super::{CeremonyError, Transcript};

const MAGIC: &[u8; 8] = b"LAKHCRMY";

/// The transcript format version this build writes and reads.
pub const TRANSCRIPT_VERSION: u16 = 1;

/// Largest phase-1 domain, `2^18` (262,144 constraints, 14× the transfer
/// circuit): about 50 MB of powers.
pub const MAX_LOG_DOMAIN: u8 = 18;

/// Most contributions a phase records.
pub const MAX_CONTRIBUTIONS: usize = 1024;

/// Most variables a phase-2 circuit may have.
pub const MAX_VARIABLES: usize = 1 << 20;

pub(crate) fn check_log_domain(log_domain: u8) -> Result<(), CeremonyError> {
    if (1..=MAX_LOG_DOMAIN).contains(&log_domain) {
        Ok(())
    } else {
        Err(CeremonyError::OutOfBounds {
            what: "log_domain",
            value: log_domain as u64,
            allowed: "1 to MAX_LOG_DOMAIN (18)",
        })
    }
}

pub(crate) fn check_count(count: usize) -> Result<(), CeremonyError> {
    if count <= MAX_CONTRIBUTIONS {
        Ok(())
    } else {
        Err(CeremonyError::OutOfBounds {
            what: "contributions in a phase",
            value: count as u64,
            allowed: "at most MAX_CONTRIBUTIONS (1024)",
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn point<P: CanonicalSerialize>(&mut self, p: &P) {
        p.serialize_uncompressed(&mut self.0)
            .expect("writing to a Vec cannot fail");
    }

    fn points<P: CanonicalSerialize>(&mut self, points: &[P]) {
        for p in points {
            self.point(p);
        }
    }

    fn u32(&mut self, value: usize) {
        // Every count written is bounded far below 2^32.
        self.0.extend((value as u32).to_le_bytes());
    }
}

pub(crate) fn encode(t: &Transcript) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.0.extend(MAGIC);
    w.0.extend(TRANSCRIPT_VERSION.to_le_bytes());
    w.0.push(t.log_domain);
    w.u32(t.phase1.len());
    for c in &t.phase1 {
        w.0.extend(c.record_bytes());
    }
    let acc = &t.accumulator;
    w.points(&acc.tau_g1);
    w.points(&acc.tau_g2);
    w.points(&acc.alpha_g1);
    w.points(&acc.beta_g1);
    w.point(&acc.beta_g2);
    match &t.phase2 {
        None => w.0.push(0),
        Some(p2) => {
            w.0.push(1);
            w.0.extend(p2.digest);
            w.u32(p2.num_instance);
            w.u32(p2.l_g1.len());
            w.0.push(p2.log_domain);
            w.points(&p2.a_g1);
            w.points(&p2.b_g1);
            w.points(&p2.b_g2);
            w.points(&p2.ic_g1);
            w.u32(p2.contributions.len());
            for c in &p2.contributions {
                w.0.extend(c.record_bytes());
            }
            w.point(&p2.delta_g1);
            w.point(&p2.delta_g2);
            w.points(&p2.l_g1);
            w.points(&p2.h_g1);
        }
    }
    w.0
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], CeremonyError> {
        if self.rest.len() < len {
            return Err(CeremonyError::Truncated { what });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, CeremonyError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<usize, CeremonyError> {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(bytes) as usize)
    }

    fn hash(&mut self, what: &'static str) -> Result<[u8; 32], CeremonyError> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32, what)?);
        Ok(out)
    }

    fn point<P: AffineRepr>(
        &mut self,
        what: &'static str,
        index: usize,
    ) -> Result<P, CeremonyError> {
        let size = P::zero().uncompressed_size();
        let bytes = self.take(size, what)?;
        P::deserialize_with_mode(bytes, Compress::No, Validate::Yes)
            .map_err(|_| CeremonyError::InvalidPoint { what, index })
    }

    /// `count` points, refused as truncated before allocating if the bytes
    /// left cannot hold them.
    fn points<P: AffineRepr>(
        &mut self,
        count: usize,
        what: &'static str,
    ) -> Result<Vec<P>, CeremonyError> {
        let size = P::zero().uncompressed_size();
        if self.rest.len() / size < count {
            return Err(CeremonyError::Truncated { what });
        }
        (0..count).map(|i| self.point(what, i)).collect()
    }

    fn pok(&mut self, index: usize) -> Result<Pok, CeremonyError> {
        Ok(Pok {
            s: self.point("proof of knowledge", index)?,
            s_x: self.point("proof of knowledge", index)?,
            r_x: self.point("proof of knowledge", index)?,
        })
    }

    fn count(&mut self, what: &'static str) -> Result<usize, CeremonyError> {
        let count = self.u32(what)?;
        check_count(count)?;
        Ok(count)
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Transcript, CeremonyError> {
    let mut r = Reader { rest: bytes };
    if r.take(MAGIC.len(), "the magic bytes")? != MAGIC {
        return Err(CeremonyError::BadMagic);
    }
    let version = r.take(2, "the version")?;
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version != TRANSCRIPT_VERSION {
        return Err(CeremonyError::UnsupportedVersion { got: version });
    }
    let log_domain = r.u8("log_domain")?;
    check_log_domain(log_domain)?;
    let n = 1usize << log_domain;
    let count = r.count("phase-1 contributions")?;
    let phase1 = (0..count)
        .map(|i| phase1_contribution(&mut r, i))
        .collect::<Result<Vec<_>, _>>()?;
    let accumulator = Accumulator {
        tau_g1: r.points(2 * n - 1, "tau_g1")?,
        tau_g2: r.points(n, "tau_g2")?,
        alpha_g1: r.points(n, "alpha_g1")?,
        beta_g1: r.points(n, "beta_g1")?,
        beta_g2: r.point("beta_g2", 0)?,
    };
    let phase2 = match r.u8("the phase-2 flag")? {
        0 => None,
        1 => Some(phase2(&mut r, log_domain)?),
        other => {
            return Err(CeremonyError::OutOfBounds {
                what: "the phase-2 flag",
                value: other as u64,
                allowed: "0 or 1",
            });
        }
    };
    if !r.rest.is_empty() {
        return Err(CeremonyError::TrailingBytes {
            count: r.rest.len(),
        });
    }
    Ok(Transcript {
        log_domain,
        phase1,
        accumulator,
        phase2,
    })
}

fn phase1_contribution(
    r: &mut Reader<'_>,
    index: usize,
) -> Result<Phase1Contribution, CeremonyError> {
    let what = "phase-1 contribution";
    Ok(Phase1Contribution {
        previous: r.hash(what)?,
        tau_g1: r.point(what, index)?,
        alpha_g1: r.point(what, index)?,
        beta_g1: r.point(what, index)?,
        tau: r.pok(index)?,
        alpha: r.pok(index)?,
        beta: r.pok(index)?,
    })
}

fn phase2(r: &mut Reader<'_>, phase1_log_domain: u8) -> Result<Phase2, CeremonyError> {
    let digest = r.hash("the circuit digest")?;
    let num_instance = r.u32("instance variables")?;
    let num_witness = r.u32("witness variables")?;
    let m = num_instance.saturating_add(num_witness);
    if num_instance == 0 || m > MAX_VARIABLES {
        return Err(CeremonyError::OutOfBounds {
            what: "circuit variables",
            value: m as u64,
            allowed: "1 instance variable or more, at most MAX_VARIABLES in all",
        });
    }
    let log_domain = r.u8("the circuit's log_domain")?;
    if log_domain == 0 || log_domain > phase1_log_domain {
        return Err(CeremonyError::OutOfBounds {
            what: "the circuit's log_domain",
            value: log_domain as u64,
            allowed: "1 to phase 1's log_domain",
        });
    }
    let a_g1 = r.points(m, "a_query")?;
    let b_g1 = r.points(m, "b_g1_query")?;
    let b_g2 = r.points(m, "b_g2_query")?;
    let ic_g1 = r.points(num_instance, "gamma_abc_g1")?;
    let count = r.count("phase-2 contributions")?;
    let contributions = (0..count)
        .map(|index| {
            Ok(Phase2Contribution {
                previous: r.hash("phase-2 contribution")?,
                delta_g1: r.point("phase-2 contribution", index)?,
                delta: r.pok(index)?,
            })
        })
        .collect::<Result<Vec<_>, CeremonyError>>()?;
    Ok(Phase2 {
        digest,
        num_instance,
        log_domain,
        a_g1,
        b_g1,
        b_g2,
        ic_g1,
        contributions,
        delta_g1: r.point::<G1Affine>("delta_g1", 0)?,
        delta_g2: r.point::<G2Affine>("delta_g2", 0)?,
        l_g1: r.points(num_witness, "l_query")?,
        h_g1: r.points((1usize << log_domain) - 1, "h_query")?,
    })
}

//! What the bench sends: the workloads, and every transaction of a run signed
//! before its timed window, straight into the bulk endpoint's wire format.

use super::accounts::{Accounts, MAX_FEE_PER_UNIT};
use super::defi::Op;
use anyhow::{Result, bail};
use bytes::Bytes;
use commonware_cryptography::Signer;
use lakh_rpc::bulk::{RECORD_PREFIX_BYTES, push_record};
use lakh_types::{Action, AssetId, Transaction, TransferEntry, TxId};
use std::collections::HashMap;
use std::time::Instant;

/// Native base units each bench transfer moves.
const TRANSFER_BASE: u128 = 1;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Native transfers, uniform random sender and receiver.
    Transfers,
    /// 90% of transfers pay one of the hottest 1% of accounts.
    Hot,
    /// Every transfer pays account #0.
    Serial,
    /// The DeFi mix of WORKLOADS.md over assets, pools and markets created in setup.
    Defi,
}

impl Workload {
    /// One line saying exactly what the workload sends.
    pub fn describe(self) -> &'static str {
        match self {
            Workload::Transfers => {
                "native transfers; sender and receiver uniform over the funded accounts; each sender's nonces in order"
            }
            Workload::Hot => {
                "native transfers; senders uniform; 90% pay one of the first 1% of accounts (the hot set), 10% pay a uniform account"
            }
            Workload::Serial => {
                "native transfers; senders uniform; every one pays account #0, so every transaction writes that one account and execution serializes on it"
            }
            Workload::Defi => {
                "exact shares, shuffled, senders uniform, each sender's nonces in order: 40% native transfers (uniform receiver); 25% AMM swaps over 100 HUB/token pools (sell 1 HUB, or sell back what the sender's earlier swap surely bought, min-out 90% of the fresh-pool quote); 10% order book over 10 markets (a resting limit bid, then the same sender's cancel-all); 10% lending in the HUB market (supply; borrow by an account that supplied collateral in setup, then its repay); 5% staking and farm (delegate to the validator; farm stake, then the same sender's unstake); 5% insurance and NFT: half insurance (cover buy 60%, provide 20%, assessor stake 20%), half NFT over the collections of 64 creators made in setup (40% a creator's mint to itself from a uniform edition shard; 30% a listing at 10 HUB of what the sender minted or bought earlier in its nonces; 30% a buy of a listing made in setup, each bought once, paying a 5% royalty split 3:1); 5% multi-transfers of 4 entries (native and HUB)"
            }
        }
    }
}

/// SplitMix64: a small, fast, seeded generator (quality far beyond what
/// picking accounts needs).
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// One planned transaction: account indices, the sender's nonce and what it
/// does (always `Op::Transfer` outside the defi workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub sender: u32,
    pub receiver: u32,
    pub nonce: u64,
    pub op: Op,
}

/// Plans `count` transfers of `workload`, senders drawn from `senders` (the
/// usable accounts), nonces taken from and advanced in `nonces`.
pub fn plan(
    workload: Workload,
    accounts: usize,
    senders: &[u32],
    nonces: &mut [u64],
    count: usize,
    seed: u64,
) -> Result<Vec<Planned>> {
    if accounts < 2 || senders.is_empty() {
        bail!("a workload needs at least two accounts and one usable sender");
    }
    if workload == Workload::Defi {
        bail!("the defi workload is planned by `defi::plan`");
    }
    let hot = (accounts / 100).max(1);
    let mut rng = SplitMix::new(seed);
    let mut out = Vec::with_capacity(count);
    // Redraws are rare unless no sender can pay anyone but itself.
    let mut redraws_left = count.saturating_mul(4).saturating_add(1_000);
    while out.len() < count {
        let sender = senders[rng.below(senders.len())] as usize;
        let receiver = match workload {
            Workload::Transfers => rng.below(accounts),
            Workload::Hot if rng.below(10) < 9 => rng.below(hot),
            Workload::Hot => rng.below(accounts),
            Workload::Serial | Workload::Defi => 0,
        };
        if receiver == sender {
            // A self-transfer touches one account; redraw to keep two.
            if redraws_left == 0 {
                bail!("cannot draw a receiver other than the sender: too few usable senders");
            }
            redraws_left -= 1;
            continue;
        }
        let nonce = nonces[sender];
        nonces[sender] += 1;
        out.push(Planned {
            sender: sender as u32,
            receiver: receiver as u32,
            nonce,
            op: Op::Transfer,
        });
    }
    Ok(out)
}

/// Every transaction of a run, signed, laid out as one bulk body: record `i`
/// is `body[offsets[i]..offsets[i + 1]]`.
pub struct Presigned {
    body: Bytes,
    offsets: Vec<usize>,
    pub plan: Vec<Planned>,
    pub index: HashMap<TxId, u32>,
    pub sign_secs: f64,
}

impl Presigned {
    pub fn len(&self) -> usize {
        self.plan.len()
    }

    /// The bulk body of records `start..end` (a view, no copy).
    pub fn records(&self, start: usize, end: usize) -> Bytes {
        self.body.slice(self.offsets[start]..self.offsets[end])
    }

    /// The id of record `i`.
    pub fn id(&self, i: usize) -> TxId {
        let record = &self.body[self.offsets[i]..self.offsets[i + 1]];
        TxId::of(&record[RECORD_PREFIX_BYTES..])
    }
}

/// The transaction a planned native transfer stands for.
pub fn transfer_tx(accounts: &Accounts, chain_id: u64, p: &Planned) -> Transaction {
    Transaction {
        chain_id,
        sender: accounts.keys[p.sender as usize].public_key().into(),
        nonce: p.nonce,
        max_fee: MAX_FEE_PER_UNIT,
        action: Action::Transfer(TransferEntry {
            to: accounts.addrs[p.receiver as usize],
            asset: AssetId::NATIVE,
            amount: TRANSFER_BASE,
        }),
    }
}

/// `p`'s sender sends `action` at `p`'s nonce, with the bench's fee cap per
/// unit of the action.
pub fn planned_tx(accounts: &Accounts, chain_id: u64, p: &Planned, action: Action) -> Transaction {
    Transaction {
        chain_id,
        sender: accounts.keys[p.sender as usize].public_key().into(),
        nonce: p.nonce,
        max_fee: MAX_FEE_PER_UNIT * lakh_types::fees::action_units(&action) as u128,
        action,
    }
}

/// Signs `plan` on every core; `tx_of` builds each planned transaction.
pub fn presign(
    accounts: &Accounts,
    plan: Vec<Planned>,
    tx_of: impl Fn(&Planned) -> Transaction + Sync,
) -> Result<Presigned> {
    let started = Instant::now();
    if plan.is_empty() {
        bail!("nothing to sign");
    }
    let threads = super::sys::cores().min(plan.len());
    let per_thread = plan.len().div_ceil(threads);
    let tx_of = &tx_of;
    let parts: Vec<(Vec<u8>, Vec<usize>, Vec<TxId>)> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .chunks(per_thread)
            .map(|part| {
                s.spawn(move || {
                    let mut body = Vec::new();
                    let mut lens = Vec::with_capacity(part.len());
                    let mut ids = Vec::with_capacity(part.len());
                    for p in part {
                        let signed = tx_of(p).sign(&accounts.keys[p.sender as usize]);
                        let before = body.len();
                        push_record(&mut body, signed.raw());
                        lens.push(body.len() - before);
                        ids.push(signed.id());
                    }
                    (body, lens, ids)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("signing panicked")))
            .collect::<Result<Vec<_>>>()
    })?;
    let total: usize = parts.iter().map(|(b, _, _)| b.len()).sum();
    let mut body = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(plan.len() + 1);
    let mut index = HashMap::with_capacity(plan.len());
    offsets.push(0);
    for (part, lens, ids) in parts {
        body.extend_from_slice(&part);
        for len in lens {
            offsets.push(offsets.last().copied().unwrap_or(0) + len);
        }
        for id in ids {
            index.insert(id, index.len() as u32);
        }
    }
    Ok(Presigned {
        body: Bytes::from(body),
        offsets,
        plan,
        index,
        sign_secs: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::SignedTransaction;

    #[test]
    fn workloads_have_their_shape_and_nonces_stay_in_order() {
        let accounts = 1000;
        let senders: Vec<u32> = (0..accounts as u32).collect();
        let mut nonces = vec![0u64; accounts];
        let count = 20_000;

        let serial = plan(Workload::Serial, accounts, &senders, &mut nonces, count, 1).unwrap();
        assert!(serial.iter().all(|p| p.receiver == 0 && p.sender != 0));

        let hot = plan(Workload::Hot, accounts, &senders, &mut nonces, count, 2).unwrap();
        let to_hot = hot.iter().filter(|p| p.receiver < 10).count();
        // 90% + 10% * 1% expected; allow sampling noise.
        assert!((17_800..18_400).contains(&to_hot), "{to_hot}");

        let uniform = plan(
            Workload::Transfers,
            accounts,
            &senders,
            &mut nonces,
            count,
            3,
        )
        .unwrap();
        let to_low = uniform.iter().filter(|p| p.receiver < 10).count();
        assert!(to_low < 400, "{to_low}");

        // Across plans, each sender's nonces are 0, 1, 2, ... in plan order.
        let mut expected = vec![0u64; accounts];
        for p in serial.iter().chain(&hot).chain(&uniform) {
            assert_eq!(p.nonce, expected[p.sender as usize]);
            expected[p.sender as usize] += 1;
            assert_ne!(p.sender, p.receiver);
        }
        assert_eq!(expected, nonces);
    }

    #[test]
    fn only_usable_senders_send() {
        let mut nonces = vec![0u64; 50];
        let planned = plan(Workload::Transfers, 50, &[3, 7], &mut nonces, 500, 9).unwrap();
        assert!(planned.iter().all(|p| p.sender == 3 || p.sender == 7));
        assert!(plan(Workload::Transfers, 50, &[], &mut nonces, 1, 9).is_err());
        // Serial pays account 0, which cannot pay itself.
        assert!(plan(Workload::Serial, 50, &[0], &mut nonces, 10, 9).is_err());
    }

    #[test]
    fn presigned_records_decode_to_the_planned_transfers() {
        let accounts = Accounts::derive(8, 11).unwrap();
        let senders: Vec<u32> = (0..8).collect();
        let mut nonces = vec![0u64; 8];
        let planned = plan(Workload::Transfers, 8, &senders, &mut nonces, 101, 4).unwrap();
        let signed = presign(&accounts, planned.clone(), |p| {
            transfer_tx(&accounts, 42, p)
        })
        .unwrap();
        assert_eq!(signed.len(), 101);
        let raws = lakh_rpc::bulk::decode_bulk(&signed.records(0, 101), 1000).unwrap();
        assert_eq!(raws.len(), 101);
        for (i, raw) in raws.into_iter().enumerate() {
            let tx = SignedTransaction::decode(raw).unwrap();
            assert!(tx.verify_signature());
            assert_eq!(tx.tx.chain_id, 42);
            assert_eq!(tx.tx.nonce, planned[i].nonce);
            assert_eq!(
                tx.tx.sender_address(),
                accounts.addrs[planned[i].sender as usize]
            );
            assert_eq!(signed.id(i), tx.id());
            assert_eq!(signed.index[&tx.id()], i as u32);
        }
        assert_eq!(signed.records(5, 7).len(), 2 * signed.records(0, 1).len());
    }
}

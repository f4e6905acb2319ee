//! Turning a run's raw measurements into the published figures (as defined in
//! WORKLOADS.md), the JSON report, the text summary and the SVG chart.

use super::defi::mix_of;
use super::load::{Fate, RunData, fate, refusals};
use super::sys::{CpuUse, Machine};
use super::workload::Planned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const NS_PER_MS: f64 = 1e6;
const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl LatencyMs {
    /// Nearest-rank percentiles of sorted latencies (ms).
    pub fn of_sorted(sorted: &[f64]) -> LatencyMs {
        if sorted.is_empty() {
            return LatencyMs::default();
        }
        let rank = |p: f64| {
            let r = (p * sorted.len() as f64).ceil() as usize;
            sorted[r.clamp(1, sorted.len()) - 1]
        };
        LatencyMs {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Signing {
    pub txs: usize,
    pub secs: f64,
    pub per_sec: f64,
}

/// One second of a run (seconds after the run started).
#[derive(Clone, Debug, Serialize)]
pub struct Second {
    pub t: u64,
    pub submitted: u64,
    pub finalized: u64,
}

/// The figures of one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub run: usize,
    /// Confirmed (finalized, succeeded) transactions whose block was learned
    /// finalized inside the window, per second of window.
    pub sustained_tps: f64,
    /// Submission to the client learning finality, over the transactions
    /// finalized inside the window.
    pub latency_ms: LatencyMs,
    /// Transactions submitted inside the window, per second.
    pub offered_tps: f64,
    pub window_secs: f64,
    pub finalized_in_window: u64,
    pub confirmed_in_window: u64,
    /// Failed transactions among those finalized in the window (estimated
    /// from the receipts checked unless `failed_exact`).
    pub failed: u64,
    pub failed_exact: bool,
    pub receipts_checked: u64,
    pub receipts_failed: u64,
    /// Failure reasons among the checked receipts (`reason` or `reason/code`).
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Receipts the node did not have (yet) when asked.
    pub receipts_missing: u64,
    /// Of the transactions submitted inside the window:
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Accepted but not seen finalized by the end of the drain.
    pub dropped: u64,
    /// In requests that failed (transport error): outcome unknown.
    pub lost: u64,
    pub presigned: usize,
    /// The pre-signed transactions by category of the workload's mix (all
    /// `transfer` outside the defi workload), by operation, and the
    /// categories of those finalized inside the window.
    pub mix: BTreeMap<String, u64>,
    pub mix_ops: BTreeMap<String, u64>,
    pub mix_finalized_in_window: BTreeMap<String, u64>,
    /// The pre-signed transactions ran out before the window ended: the load
    /// was not sustained and the TPS is a lower bound.
    pub exhausted: bool,
    pub signing: Signing,
    pub node_cpu: Option<CpuUse>,
    pub bench_cpu: Option<CpuUse>,
    pub blocks_in_window: u64,
    pub txs_per_block: f64,
    pub resubscriptions: u32,
    pub backfilled_blocks: u64,
    pub first_error: Option<String>,
    pub per_second: Vec<Second>,
    /// Latencies (ms) of the window's finalized transactions, sorted; for
    /// the chart, not the JSON.
    #[serde(skip)]
    pub latencies_sorted_ms: Vec<f64>,
}

impl RunReport {
    pub fn from_data(run: usize, data: &RunData, signing: Signing, plan: &[Planned]) -> RunReport {
        let window = data.window_start_ns..data.window_end_ns;
        let window_secs = (data.window_end_ns - data.window_start_ns) as f64 / NS_PER_SEC as f64;

        let mut latencies: Vec<f64> = data
            .finals
            .iter()
            .filter(|(_, t)| window.contains(t))
            .map(|&(i, t)| t.saturating_sub(data.submit_ns[i as usize]) as f64 / NS_PER_MS)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let finalized_in_window = latencies.len() as u64;

        let failed_exact = data.receipts_checked >= finalized_in_window;
        let failed = if data.receipts_checked == 0 {
            0
        } else if failed_exact {
            data.receipts_failed
        } else {
            (data.receipts_failed as f64 / data.receipts_checked as f64
                * finalized_in_window as f64)
                .round() as u64
        };
        let confirmed_in_window = finalized_in_window.saturating_sub(failed);
        let (mix, mix_ops) = mix_of(plan.iter().map(|p| &p.op));
        let (mix_finalized_in_window, _) = mix_of(
            data.finals
                .iter()
                .filter(|(_, t)| window.contains(t))
                .filter_map(|&(i, _)| plan.get(i as usize).map(|p| &p.op)),
        );

        // Sent transactions need not be a prefix: requests run concurrently.
        let sent = || (0..data.states.len()).filter(|&i| fate(data.states[i]) != Fate::Unsent);
        let submitted_in_window: Vec<usize> = sent()
            .filter(|&i| window.contains(&data.submit_ns[i]))
            .collect();
        let mut accepted = 0;
        let mut dropped = 0;
        let mut lost = 0;
        for &i in &submitted_in_window {
            match fate(data.states[i]) {
                Fate::Finalized => accepted += 1,
                Fate::Dropped => {
                    accepted += 1;
                    dropped += 1;
                }
                Fate::Lost => lost += 1,
                Fate::Refused(_) | Fate::Unsent => {}
            }
        }
        let rejected_by_reason = refusals(
            &data.states,
            &data.reasons,
            submitted_in_window.iter().copied(),
        );

        let seconds = data.window_end_ns.div_ceil(NS_PER_SEC) as usize + 1;
        let mut per_second: Vec<Second> = (0..seconds as u64)
            .map(|t| Second {
                t,
                submitted: 0,
                finalized: 0,
            })
            .collect();
        let slot = |ns: u64| ((ns / NS_PER_SEC) as usize).min(seconds - 1);
        for i in sent() {
            per_second[slot(data.submit_ns[i])].submitted += 1;
        }
        for &(_, ns) in &data.finals {
            per_second[slot(ns)].finalized += 1;
        }
        let window_blocks: Vec<_> = data
            .blocks
            .iter()
            .filter(|(t, _, _)| window.contains(t))
            .collect();
        let blocks_in_window = window_blocks.len() as u64;
        let txs_in_blocks: u64 = window_blocks.iter().map(|(_, _, n)| n).sum();

        RunReport {
            run,
            sustained_tps: confirmed_in_window as f64 / window_secs,
            latency_ms: LatencyMs::of_sorted(&latencies),
            offered_tps: submitted_in_window.len() as f64 / window_secs,
            window_secs,
            finalized_in_window,
            confirmed_in_window,
            failed,
            failed_exact,
            receipts_checked: data.receipts_checked,
            receipts_failed: data.receipts_failed,
            failed_by_reason: data.receipts_failed_by_reason.clone(),
            receipts_missing: data.receipts_missing,
            submitted: submitted_in_window.len() as u64,
            accepted,
            rejected: rejected_by_reason.values().sum(),
            rejected_by_reason,
            dropped,
            lost,
            presigned: plan.len(),
            mix,
            mix_ops,
            mix_finalized_in_window,
            exhausted: data.exhausted,
            signing,
            node_cpu: data.node_cpu.clone(),
            bench_cpu: data.bench_cpu.clone(),
            blocks_in_window,
            txs_per_block: if blocks_in_window == 0 {
                0.0
            } else {
                txs_in_blocks as f64 / blocks_in_window as f64
            },
            resubscriptions: data.resubscriptions,
            backfilled_blocks: data.backfilled_blocks,
            first_error: data.first_error.clone(),
            per_second,
            latencies_sorted_ms: latencies,
        }
    }
}

/// Median of `values` (mean of the middle two when even); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        Spread {
            median: median(values),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The bench's JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub schema: &'static str,
    pub workload: super::workload::Workload,
    pub workload_detail: &'static str,
    pub accounts: usize,
    /// `closed` (bounded in flight) or `open` (target rate).
    pub load_mode: &'static str,
    pub target_rate_tps: Option<f64>,
    pub in_flight_limit: Option<usize>,
    pub batch_txs: usize,
    pub warmup_secs: f64,
    pub duration_secs: f64,
    pub runs: usize,
    /// Median over the runs.
    pub sustained_tps: f64,
    pub sustained_tps_spread: Spread,
    /// Median over the runs, per percentile.
    pub latency_ms: LatencyMs,
    pub offered_tps: f64,
    /// Sums over the runs.
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub dropped: u64,
    pub lost: u64,
    pub failed: u64,
    /// Sums over the runs, of the checked receipts.
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Pre-signed transactions by category of the mix, summed over the runs.
    pub mix: BTreeMap<String, u64>,
    /// Of the median run.
    pub node_cpu: Option<CpuUse>,
    pub bench_cpu: Option<CpuUse>,
    pub machine: Machine,
    pub rpc: String,
    pub devnet: bool,
    pub funding: super::accounts::Funding,
    /// The defi workload's setup (not timed).
    pub defi_setup: Option<super::defi::SetupReport>,
    pub signing: Signing,
    pub runs_detail: Vec<RunReport>,
    /// This machine's ceilings measured after the runs (`--ceilings`), with
    /// `sustained_tps` as a share of their bounds.
    pub ceilings: Option<super::ceilings::CeilingsReport>,
    /// The run with private transfers beside the load (`--shielded`); the
    /// figures above are the runs without them.
    pub shielded: Option<super::shielded::ShieldedReport>,
}

impl BenchReport {
    /// Index (into `runs_detail`) of the run with the median TPS.
    pub fn median_run(runs: &[RunReport]) -> usize {
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by(|&a, &b| runs[a].sustained_tps.total_cmp(&runs[b].sustained_tps));
        order[order.len() / 2]
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        let l = &self.latency_ms;
        let spread = &self.sustained_tps_spread;
        let _ = writeln!(
            s,
            "lakh bench: {:?}, {} accounts, {} load, {} run(s) of {}s after {}s warm-up",
            self.workload,
            self.accounts,
            match self.target_rate_tps {
                Some(r) => format!("open {r:.0} tx/s"),
                None => format!("closed ({} in flight)", self.in_flight_limit.unwrap_or(0)),
            },
            self.runs,
            self.duration_secs,
            self.warmup_secs
        );
        let _ = writeln!(
            s,
            "  sustained  {:.0} tx/s (median; min {:.0}, max {:.0})",
            self.sustained_tps, spread.min, spread.max
        );
        let _ = writeln!(
            s,
            "  latency    p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
            l.p50, l.p90, l.p99, l.max
        );
        let _ = writeln!(
            s,
            "  offered    {:.0} tx/s; accepted {}, rejected {}{}, dropped {}, lost {}, failed {}",
            self.offered_tps,
            self.accepted,
            self.rejected,
            if self.rejected_by_reason.is_empty() {
                String::new()
            } else {
                format!(" {:?}", self.rejected_by_reason)
            },
            self.dropped,
            self.lost,
            self.failed
        );
        let cpu = |c: &Option<CpuUse>| match c {
            Some(c) => format!(
                "{:.0}% of machine ({:.2} cores), peak RSS {}",
                c.percent_of_machine,
                c.cores_used,
                c.peak_rss_mib
                    .map_or("unknown".into(), |m| format!("{m:.0} MiB"))
            ),
            None => "not measured (pass --devnet or --node-pid)".into(),
        };
        let _ = writeln!(s, "  node       {}", cpu(&self.node_cpu));
        let _ = writeln!(s, "  bench      {}", cpu(&self.bench_cpu));
        let _ = writeln!(
            s,
            "  signing    {} txs in {:.1}s ({:.0}/s, not charged)",
            self.signing.txs, self.signing.secs, self.signing.per_sec
        );
        let f = &self.funding;
        let _ = writeln!(
            s,
            "  funding    {} accounts in {} txs, {:.1}s",
            f.accounts, f.txs, f.secs
        );
        if let Some(d) = &self.defi_setup {
            let _ = writeln!(
                s,
                "  setup      {} assets ({}*), {} pools, {} markets, {} borrowers: {} admin + {} account txs, {:.1}s",
                d.assets,
                d.hub_symbol,
                d.pools,
                d.markets,
                d.borrowers,
                d.admin_txs,
                d.account_txs,
                d.secs
            );
        }
        if self.mix.len() > 1 {
            let total = self.mix.values().sum::<u64>().max(1) as f64;
            let shares: Vec<String> = self
                .mix
                .iter()
                .map(|(k, v)| format!("{k} {:.1}%", *v as f64 * 100.0 / total))
                .collect();
            let _ = writeln!(s, "  mix        {}", shares.join(", "));
        }
        if !self.failed_by_reason.is_empty() {
            let _ = writeln!(
                s,
                "  failures   {:?} (checked receipts)",
                self.failed_by_reason
            );
        }
        if let Some(shielded) = &self.shielded {
            s.push_str(&shielded.summary());
        }
        let _ = writeln!(s, "  machine    {}", self.machine.line());
        if let Some(rate) = self.target_rate_tps
            && self.offered_tps < 0.95 * rate
        {
            let _ = writeln!(
                s,
                "  WARNING    offered {:.0} tx/s of the {rate:.0} asked: submissions could not keep up (raise --max-requests or --batch, or ingest is the limit)",
                self.offered_tps
            );
        }
        if self.runs_detail.iter().any(|r| r.exhausted) {
            let _ = writeln!(
                s,
                "  WARNING    pre-signed transactions ran out before a window ended: that TPS is a lower bound (raise --presign-tps)"
            );
        }
        s
    }
}

/// A two-panel SVG: confirmed and offered transactions per second over the
/// run (window shaded), and the latency CDF of the window.
pub fn svg(report: &BenchReport, run: &RunReport) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 380.0;
    const PANEL_W: f64 = 380.0;
    const PANEL_H: f64 = 260.0;
    const TOP: f64 = 70.0;
    let left_x = 70.0;
    let right_x = left_x + PANEL_W + 110.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{left_x}" y="24" font-size="15" font-weight="bold">lakh bench: {:?}, {} accounts, run {} — sustained {:.0} tx/s, p50 {:.0} ms, p99 {:.0} ms</text>"#,
        report.workload,
        report.accounts,
        run.run,
        run.sustained_tps,
        run.latency_ms.p50,
        run.latency_ms.p99
    );
    let _ = write!(
        s,
        r##"<text x="{left_x}" y="44" fill="#555">{}</text>"##,
        escape(&report.machine.line())
    );

    // Panel 1: per-second throughput.
    let secs = run.per_second.len().max(1) as f64;
    let peak = run
        .per_second
        .iter()
        .map(|p| p.submitted.max(p.finalized))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x_of = |t: f64| left_x + t / secs * PANEL_W;
    let y_of = |v: f64| TOP + PANEL_H - v / peak * PANEL_H;
    let ws = report.warmup_secs;
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{PANEL_H}" fill="#e8f0fe"/>"##,
        x_of(ws),
        x_of(ws + run.window_secs) - x_of(ws)
    );
    axes(&mut s, left_x, TOP, PANEL_W, PANEL_H);
    let line = |pick: &dyn Fn(&Second) -> u64| {
        run.per_second
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.t as f64 + 0.5), y_of(pick(p) as f64)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#1a73e8" stroke-width="2" points="{}"/>"##,
        line(&|p| p.finalized)
    );
    // Submitted on top, dashed: in a closed loop the two often coincide.
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#777" stroke-width="1.5" stroke-dasharray="5,4" points="{}"/>"##,
        line(&|p| p.submitted)
    );
    let _ = write!(
        s,
        r##"<text x="{left_x}" y="{:.1}">tx/s each second (blue: finalized, dashed: submitted, shaded: window)</text>"##,
        TOP - 8.0
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{peak:.0}</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"#,
        left_x - 6.0,
        TOP + 4.0,
        left_x - 6.0,
        TOP + PANEL_H
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds (0–{secs:.0})</text>"#,
        left_x + PANEL_W / 2.0,
        TOP + PANEL_H + 22.0
    );

    // Panel 2: latency CDF.
    let lat = &run.latencies_sorted_ms;
    let max_ms = lat.last().copied().unwrap_or(1.0).max(1.0);
    let cx = |ms: f64| right_x + ms / max_ms * PANEL_W;
    let cy = |f: f64| TOP + PANEL_H - f * PANEL_H;
    axes(&mut s, right_x, TOP, PANEL_W, PANEL_H);
    // At most ~400 points: one per horizontal pixel is plenty.
    let step = (lat.len() / 400).max(1);
    let mut points: Vec<String> = lat
        .iter()
        .enumerate()
        .step_by(step)
        .map(|(i, ms)| {
            format!(
                "{:.1},{:.1}",
                cx(*ms),
                cy((i + 1) as f64 / lat.len() as f64)
            )
        })
        .collect();
    if let Some(last) = lat.last() {
        points.push(format!("{:.1},{:.1}", cx(*last), cy(1.0)));
    }
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#d93025" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    let _ = write!(
        s,
        r##"<text x="{right_x}" y="{:.1}">latency CDF, submit → finalized ({} txs in window)</text>"##,
        TOP - 8.0,
        lat.len()
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">1.0</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"#,
        right_x - 6.0,
        TOP + 4.0,
        right_x - 6.0,
        TOP + PANEL_H
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">milliseconds (0–{max_ms:.0})</text>"#,
        right_x + PANEL_W / 2.0,
        TOP + PANEL_H + 22.0
    );
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, x: f64, y: f64, w: f64, h: f64) {
    let _ = write!(
        s,
        r##"<path d="M{x},{y} V{:.1} H{:.1}" fill="none" stroke="#333"/>"##,
        y + h,
        x + w
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::{ACCEPTED, FINALIZED, REFUSED_BASE, UNSENT};

    const S: u64 = NS_PER_SEC;

    fn data() -> RunData {
        RunData {
            window_start_ns: S,
            window_end_ns: 3 * S,
            submit_ns: vec![S / 2, 12 * S / 10, 3 * S / 2, 2 * S, 5 * S / 2, 0],
            states: vec![
                FINALIZED,
                FINALIZED,
                REFUSED_BASE,
                ACCEPTED,
                FINALIZED,
                UNSENT,
            ],
            reasons: vec!["nonce_gap".into()],
            finals: vec![(0, 3 * S / 2), (1, 2 * S), (4, 7 * S / 2)],
            blocks: vec![(3 * S / 2, 10, 1), (2 * S, 11, 1), (7 * S / 2, 12, 1)],
            node_cpu: None,
            bench_cpu: None,
            exhausted: false,
            receipts_checked: 2,
            receipts_failed: 1,
            receipts_missing: 0,
            receipts_failed_by_reason: BTreeMap::from([("dex/expired".to_string(), 1)]),
            first_error: None,
            resubscriptions: 0,
            backfilled_blocks: 0,
            side: None,
        }
    }

    #[test]
    fn only_the_window_counts_and_failures_are_not_throughput() {
        let signing = Signing {
            txs: 6,
            secs: 1.0,
            per_sec: 6.0,
        };
        let plan: Vec<Planned> = (0..6)
            .map(|i| Planned {
                sender: i,
                receiver: 0,
                nonce: 0,
                op: super::super::defi::Op::Transfer,
            })
            .collect();
        let r = RunReport::from_data(1, &data(), signing, &plan);
        // Finalized in the window: txs 0 and 1 (tx 4 finalized after it);
        // one of them failed, exactly known since both receipts were checked.
        assert_eq!(r.finalized_in_window, 2);
        assert_eq!((r.failed, r.failed_exact), (1, true));
        assert_eq!(r.confirmed_in_window, 1);
        assert_eq!(r.sustained_tps, 0.5);
        assert_eq!(r.latency_ms.p50, 800.0);
        assert_eq!(r.latency_ms.max, 1000.0);
        // Submitted in the window: txs 1 to 4.
        assert_eq!(r.submitted, 4);
        assert_eq!(r.offered_tps, 2.0);
        assert_eq!((r.accepted, r.dropped, r.rejected), (3, 1, 1));
        assert_eq!(r.rejected_by_reason["nonce_gap"], 1);
        assert_eq!(r.blocks_in_window, 2);
        assert_eq!(r.failed_by_reason["dex/expired"], 1);
        assert_eq!(r.mix["transfer"], 6);
        assert_eq!(r.mix_finalized_in_window["transfer"], 2);
        let submitted: Vec<u64> = r.per_second.iter().map(|p| p.submitted).collect();
        let finalized: Vec<u64> = r.per_second.iter().map(|p| p.finalized).collect();
        assert_eq!(submitted, vec![1, 2, 2, 0]);
        assert_eq!(finalized, vec![0, 1, 1, 1]);

        // With only a sample of receipts, failures are extrapolated.
        let mut sampled = data();
        sampled.receipts_checked = 1;
        let r = RunReport::from_data(1, &sampled, r.signing.clone(), &plan);
        assert_eq!((r.failed, r.failed_exact), (2, false));
        assert_eq!(r.sustained_tps, 0.0);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = LatencyMs::of_sorted(&v);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(l.mean, 50.5);
        let one = LatencyMs::of_sorted(&[7.0]);
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert_eq!(LatencyMs::of_sorted(&[]).max, 0.0);
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        let s = Spread::of(&[5.0, 1.0, 9.0]);
        assert_eq!((s.median, s.min, s.max), (5.0, 1.0, 9.0));
    }
}

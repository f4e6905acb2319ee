//! What the bench reads about processes and the machine from `/proc`: CPU
//! time, peak memory, cores and CPU model. Outside Linux the readers return
//! `None` and the report says "unknown".

use serde::Serialize;
use std::time::Instant;

/// Kernel clock ticks per second of `/proc/PID/stat` CPU times (USER_HZ;
/// 100 on every mainstream Linux architecture).
const TICKS_PER_SEC: f64 = 100.0;

/// User + system CPU seconds used so far by `pid` ("self" for this process).
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' come state (field 3) onward, so utime (14) and stime (15)
    // are at offsets 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// Peak resident memory of `pid` in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The machine line every published figure carries.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    /// `debug` or `release`.
    pub build_profile: &'static str,
    /// Notable CPU features this binary was compiled for: empty means the
    /// default target (no `target-cpu=native`).
    pub target_features: Vec<&'static str>,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let mut target_features = Vec::new();
        if cfg!(target_feature = "avx2") {
            target_features.push("avx2");
        }
        if cfg!(target_feature = "avx512f") {
            target_features.push("avx512f");
        }
        if cfg!(target_feature = "bmi2") {
            target_features.push("bmi2");
        }
        if cfg!(target_feature = "sha") {
            target_features.push("sha");
        }
        Machine {
            cores: cores(),
            cpu_model,
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            target_features,
        }
    }

    pub fn line(&self) -> String {
        let features = if self.target_features.is_empty() {
            "default target".to_string()
        } else {
            self.target_features.join("+")
        };
        format!(
            "{} cores, {}, {} build, {features}",
            self.cores, self.cpu_model, self.build_profile
        )
    }
}

/// CPU use of one process over an interval.
#[derive(Clone, Debug, Serialize)]
pub struct CpuUse {
    /// CPU seconds per wall second (2.0 = two cores busy).
    pub cores_used: f64,
    /// Share of the whole machine, 0–100.
    pub percent_of_machine: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Start of a CPU measurement of one process.
pub struct CpuMark {
    pid: String,
    cpu: f64,
    at: Instant,
}

impl CpuMark {
    pub fn start(pid: &str) -> Option<CpuMark> {
        Some(CpuMark {
            pid: pid.to_string(),
            cpu: cpu_secs(pid)?,
            at: Instant::now(),
        })
    }

    pub fn finish(&self) -> Option<CpuUse> {
        let cpu = cpu_secs(&self.pid)? - self.cpu;
        let wall = self.at.elapsed().as_secs_f64().max(1e-9);
        let cores_used = cpu / wall;
        Some(CpuUse {
            cores_used,
            percent_of_machine: 100.0 * cores_used / cores() as f64,
            peak_rss_mib: peak_rss_mib(&self.pid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let mark = CpuMark::start("self").unwrap();
        // Burn a little CPU so the reading can move.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let used = mark.finish().unwrap();
        assert!(used.cores_used >= 0.0);
        assert!(used.peak_rss_mib.unwrap() > 0.0);
        assert!(Machine::detect().cores >= 1);
    }
}

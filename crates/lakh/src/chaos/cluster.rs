//! The validators of a chaos run as `lakh node` child processes, and the
//! faults done to them: `SIGKILL` then restart on the same data directory,
//! `SIGSTOP` then `SIGCONT`, and a partition: every node runs with
//! `--partition-file` in its data directory (so a restart keeps the cut),
//! and a node is cut off by listing every other node in its file and it in
//! theirs (see `lakh_node::partition`).

use crate::network;
use anyhow::{Context, Result};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a node is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Running,
    /// Killed; restarted at the instant.
    Down {
        restart_at: Instant,
    },
    /// Stopped with `SIGSTOP`; continued at the instant.
    Paused {
        resume_at: Instant,
    },
    /// Cut off from every other node (still answering its clients);
    /// healed at the instant.
    Cut {
        heal_at: Instant,
    },
}

/// One validator process and how to start it again.
struct Node {
    config: PathBuf,
    /// Hex public key, as the partition files list it.
    key: String,
    /// The `--partition-file` the node reads.
    partition: PathBuf,
    rpc_port: u16,
    log: PathBuf,
    child: Option<Child>,
    state: NodeState,
}

/// The network's processes; every child is killed when this is dropped.
pub struct Cluster {
    exe: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts one `lakh node` per validator of the network `write_network`
    /// wrote in `dir`, node `i` with key `keys[i]` serving RPC on
    /// `rpc_ports[i]` and logging to `dir/node-i.log` (appended across
    /// restarts).
    pub fn start(dir: &Path, keys: &[String], rpc_ports: &[u16]) -> Result<Cluster> {
        let exe = std::env::current_exe().context("cannot locate the lakh binary")?;
        let mut cluster = Cluster {
            exe,
            nodes: Vec::new(),
        };
        for (i, (key, rpc_port)) in keys.iter().zip(rpc_ports).enumerate() {
            cluster.nodes.push(Node {
                config: dir.join(format!("node-{i}.toml")),
                key: key.clone(),
                partition: network::node_data_dir(dir, i).join("partition"),
                rpc_port: *rpc_port,
                log: dir.join(format!("node-{i}.log")),
                child: None,
                state: NodeState::Running,
            });
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn rpc_url(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[index].rpc_port)
    }

    pub fn state(&self, index: usize) -> NodeState {
        self.nodes[index].state
    }

    /// Nodes not running right now (killed, paused or cut off).
    pub fn faulted(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.state != NodeState::Running)
            .count()
    }

    fn spawn(&mut self, index: usize) -> Result<()> {
        let node = &mut self.nodes[index];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .with_context(|| format!("cannot open {}", node.log.display()))?;
        let mut cmd = Command::new(&self.exe);
        crate::bench::die_with_parent(&mut cmd);
        let child = cmd
            .arg("node")
            .arg("--config")
            .arg(&node.config)
            .args(["--rpc-addr", &format!("127.0.0.1:{}", node.rpc_port)])
            .arg("--partition-file")
            .arg(&node.partition)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start node {index}"))?;
        node.child = Some(child);
        node.state = NodeState::Running;
        Ok(())
    }

    fn pid(&self, index: usize) -> Result<libc::pid_t> {
        let child = self.nodes[index]
            .child
            .as_ref()
            .with_context(|| format!("node {index} has no process"))?;
        libc::pid_t::try_from(child.id()).context("pid out of range")
    }

    /// `SIGKILL`s node `index`; it comes back after `down`.
    pub fn kill(&mut self, index: usize, down: Duration) -> Result<()> {
        let node = &mut self.nodes[index];
        if let Some(mut child) = node.child.take() {
            child
                .kill()
                .with_context(|| format!("cannot kill node {index}"))?;
            child.wait().context("cannot reap a killed node")?;
        }
        node.state = NodeState::Down {
            restart_at: Instant::now() + down,
        };
        Ok(())
    }

    /// `SIGSTOP`s node `index` for `paused`: its sockets stay open but it
    /// answers nothing, as a node whose machine froze.
    pub fn pause(&mut self, index: usize, paused: Duration) -> Result<()> {
        signal(self.pid(index)?, libc::SIGSTOP)?;
        self.nodes[index].state = NodeState::Paused {
            resume_at: Instant::now() + paused,
        };
        Ok(())
    }

    /// Cuts node `index` off from every other node for `cut`, both ways.
    pub fn partition(&mut self, index: usize, cut: Duration) -> Result<()> {
        self.nodes[index].state = NodeState::Cut {
            heal_at: Instant::now() + cut,
        };
        self.write_cuts()
    }

    /// Writes every node's partition file from the nodes' states: a cut
    /// node lists all others, every other node lists the cut ones. Each
    /// file is replaced whole (renamed over), so a node never reads half.
    fn write_cuts(&self) -> Result<()> {
        let cut: Vec<&str> = self
            .nodes
            .iter()
            .filter(|n| matches!(n.state, NodeState::Cut { .. }))
            .map(|n| n.key.as_str())
            .collect();
        for node in &self.nodes {
            let listed: Vec<&str> = if matches!(node.state, NodeState::Cut { .. }) {
                self.nodes
                    .iter()
                    .filter(|n| n.key != node.key)
                    .map(|n| n.key.as_str())
                    .collect()
            } else {
                cut.clone()
            };
            let text: String = listed.iter().map(|key| format!("{key}\n")).collect();
            replace_file(&node.partition, &text)?;
        }
        Ok(())
    }

    /// Restarts, continues or reconnects every node whose fault has run its
    /// time (all of them with `now` far enough ahead). Returns how many were
    /// restarted.
    pub fn heal_due(&mut self, now: Instant) -> Result<usize> {
        let mut restarted = 0;
        let mut reconnected = false;
        for index in 0..self.nodes.len() {
            match self.nodes[index].state {
                NodeState::Down { restart_at } if restart_at <= now => {
                    self.spawn(index)?;
                    restarted += 1;
                }
                NodeState::Paused { resume_at } if resume_at <= now => {
                    signal(self.pid(index)?, libc::SIGCONT)?;
                    self.nodes[index].state = NodeState::Running;
                }
                NodeState::Cut { heal_at } if heal_at <= now => {
                    self.nodes[index].state = NodeState::Running;
                    reconnected = true;
                }
                _ => {}
            }
        }
        if reconnected {
            self.write_cuts()?;
        }
        Ok(restarted)
    }

    /// Restarts and continues every faulted node now.
    pub fn heal_all(&mut self) -> Result<usize> {
        self.heal_due(Instant::now() + Duration::from_secs(24 * 3600))
    }

    /// Nodes that exited without being killed: each is reported, marked
    /// down and restarted by the next [`Cluster::heal_due`]. Returns how many.
    pub fn reap_crashed(&mut self) -> Result<usize> {
        let mut crashed = 0;
        let mut was_cut = false;
        for (index, node) in self.nodes.iter_mut().enumerate() {
            let exited = match node.child.as_mut() {
                Some(child) => child.try_wait().context("cannot poll a node")?,
                None => None,
            };
            if let Some(status) = exited {
                eprintln!(
                    "node {index} exited by itself ({status}); see {}",
                    node.log.display()
                );
                node.child = None;
                was_cut |= matches!(node.state, NodeState::Cut { .. });
                node.state = NodeState::Down {
                    restart_at: Instant::now(),
                };
                crashed += 1;
            }
        }
        if was_cut {
            self.write_cuts()?;
        }
        Ok(crashed)
    }
}

/// Writes `text` to `path` through a new file renamed over it.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    let next = path.with_extension("next");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&next, text).with_context(|| format!("cannot write {}", next.display()))?;
    std::fs::rename(&next, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[allow(unsafe_code)] // kill(2) on our own child's pid; no memory is shared.
fn signal(pid: libc::pid_t, sig: libc::c_int) -> Result<()> {
    // SAFETY: kill only sends a signal to `pid`, a child this process
    // spawned and has not reaped.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot signal a node");
    }
    Ok(())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                    let _ = signal(pid, libc::SIGCONT);
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

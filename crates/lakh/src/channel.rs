//! `lakh channel`: run a channel node (`serve`) and drive it (`open`, `pay`,
//! `deposit`, `withdraw`, `close`, `list`, `watch`), or measure two on
//! loopback (`bench`).
//!
//! `serve` keeps its channels in `<data>/channels.redb` and writes where its
//! local control port listens to `<data>/control.json`; the other commands
//! find it there (`--data`, or the default directory of `--key`), or take
//! `--control URL`. The node itself is `crates/channel-node`.

use crate::keys::{default_keys_dir, load_key, resolve_address};
use crate::wallet::units::AmountArg;
use anyhow::{Context, bail};
use lakh_channel_node::control::{
    self, CloseParams, ControlApiClient, DepositParams, ListAnswer, OpenParams, PayParams,
    PayViaParams, PaywordClaimParams, PaywordOpenParams, WatchParams, WithdrawParams,
};
use lakh_channel_node::{Node, NodeError, bench, chain::Chain};
use lakh_types::decimal::format_units;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ChannelArgs {
    /// Directory of key files [default: ~/.lakh/devnet/keys]
    #[arg(long, global = true)]
    pub keys: Option<PathBuf>,
    /// Key the channel node runs with (names its default data directory)
    #[arg(long, global = true)]
    pub key: Option<String>,
    /// The channel node's data directory [default: ~/.lakh/devnet/channel/<KEY>]
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// URL of a running node's control port [default: read from <data>/control.json]
    #[arg(long, global = true)]
    pub control: Option<String>,
    /// Print one JSON object instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Amounts typed are whole base units, not the asset's units with decimals
    #[arg(long, global = true)]
    pub base_units: bool,
    #[command(subcommand)]
    pub command: ChannelCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ChannelCommand {
    /// Run a channel node: peers, control port, watchtower (until killed)
    Serve {
        /// Address peers connect to
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// The lakh node's RPC endpoint
        #[arg(long, default_value = "http://127.0.0.1:8645")]
        rpc: String,
        /// Loopback address of the control port
        #[arg(long, default_value = "127.0.0.1:0")]
        control_addr: std::net::SocketAddr,
        /// Milliseconds between the watchtower's looks at the chain
        #[arg(long, default_value_t = 1_000)]
        poll_ms: u64,
    },
    /// Open a channel on chain with a deposit and announce it to the peer
    Open {
        /// The peer as KEY@HOST:PORT (KEY a key name or 64-hex address)
        #[arg(long)]
        peer: String,
        /// Asset symbol or id
        #[arg(long)]
        asset: String,
        /// This node's deposit, in the asset's units (or base units with --base-units)
        #[arg(long)]
        deposit: AmountArg,
        /// Challenge window in blocks [default: the module's floor, 3600]
        #[arg(long)]
        challenge_blocks: Option<u64>,
        /// A one-way PayWord channel to the peer: the deposit split into
        /// --payments equal payments, each one word of a hash chain
        #[arg(long, requires = "payments")]
        payword: bool,
        /// Payments a PayWord channel makes (1..=65536; the deposit must split evenly)
        #[arg(long, requires = "payword")]
        payments: Option<u32>,
    },
    /// Pay a peer off chain through an open channel (one co-signed state per
    /// payment), or a node one hop further through an intermediary (--via)
    Pay {
        /// Key name or 64-hex address of the payee
        #[arg(long)]
        to: String,
        /// Amount of each payment
        #[arg(long)]
        amount: AmountArg,
        /// Number of payments (pipelined; one with --via)
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Route through this peer's channel node (hash-locked), which has a channel with the payee
        #[arg(long)]
        via: Option<String>,
        /// Pay through a PayWord channel to the payee (--amount a whole number of its unit)
        #[arg(long, conflicts_with = "via")]
        payword: bool,
    },
    /// Withdraw part of this node's balance to its account on chain; the channel stays open
    Withdraw {
        /// The channel id
        #[arg(long)]
        channel: String,
        /// Amount withdrawn, in the asset's units (or base units with --base-units)
        #[arg(long)]
        amount: AmountArg,
    },
    /// Add to this node's deposit on chain, then co-sign a state counting it
    Deposit {
        /// Key name or 64-hex address of the peer
        #[arg(long)]
        peer: Option<String>,
        /// The channel id (when several channels match)
        #[arg(long)]
        channel: Option<String>,
        /// Amount added, in the asset's units (or base units with --base-units)
        #[arg(long)]
        amount: AmountArg,
    },
    /// Close a channel: cooperatively (final state, paid at once) or alone;
    /// a PayWord channel (--channel ID) is closed by its payee's claim
    Close {
        /// Key name or 64-hex address of the peer
        #[arg(long)]
        peer: Option<String>,
        /// The channel id (when several channels match)
        #[arg(long)]
        channel: Option<String>,
        /// Close alone with the latest co-signed state; settled after the window
        #[arg(long)]
        unilateral: bool,
    },
    /// Show the node's channels
    List,
    /// Hand the latest co-signed states to a watchtower (another channel node)
    Watch {
        /// The watchtower as KEY@HOST:PORT
        #[arg(long)]
        tower: String,
    },
    /// Off-chain payments per second between two channel nodes on loopback
    Bench {
        /// Co-signed payments
        #[arg(long, default_value_t = 100_000)]
        payments: u64,
        /// Payments signed and stored per batch
        #[arg(long, default_value_t = 512)]
        batch: u64,
        /// Batches in flight
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// PayWord payments
        #[arg(long, default_value_t = 1 << 20)]
        payword_payments: u64,
        /// PayWord words per message
        #[arg(long, default_value_t = 1_024)]
        words_per_message: usize,
    },
}

fn keys_dir(args: &ChannelArgs) -> anyhow::Result<PathBuf> {
    match &args.keys {
        Some(d) => Ok(d.clone()),
        None => default_keys_dir(),
    }
}

fn data_dir(args: &ChannelArgs) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.data {
        return Ok(d.clone());
    }
    let key = args
        .key
        .as_deref()
        .context("name the node with --key NAME, --data DIR or --control URL")?;
    let keys = keys_dir(args)?;
    let base = keys.parent().map(Path::to_path_buf).unwrap_or(keys);
    Ok(base.join("channel").join(key))
}

fn control_url(args: &ChannelArgs) -> anyhow::Result<String> {
    if let Some(c) = &args.control {
        return Ok(c.clone());
    }
    let path = data_dir(args)?.join("control.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no {}: is `lakh channel serve` running with this data directory?",
            path.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    v["control"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{} has no control URL", path.display()))
}

/// `KEY@ADDR` with KEY a key name or hex, as hex.
fn peer_arg(keys: &Path, s: &str) -> anyhow::Result<String> {
    let (key, addr) = s
        .split_once('@')
        .with_context(|| format!("{s:?} is not KEY@HOST:PORT"))?;
    Ok(format!("{}@{addr}", resolve_address(keys, key)?))
}

pub fn run(args: ChannelArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(execute(args))
}

fn coded(e: NodeError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

fn print(json: bool, value: &serde_json::Value, text: String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{text}");
    }
    Ok(())
}

async fn execute(args: ChannelArgs) -> anyhow::Result<()> {
    let keys = keys_dir(&args)?;
    match &args.command {
        ChannelCommand::Serve {
            listen,
            rpc,
            control_addr,
            poll_ms,
        } => serve(&args, listen, rpc, *control_addr, *poll_ms).await,
        ChannelCommand::Bench {
            payments,
            batch,
            concurrency,
            payword_payments,
            words_per_message,
        } => {
            let dir = tempfile::tempdir()?;
            let cfg = bench::BenchConfig {
                payments: *payments,
                batch: *batch,
                concurrency: *concurrency,
                payword_payments: *payword_payments,
                words_per_message: *words_per_message,
            };
            let r = bench::run(&cfg, dir.path()).await?;
            let line = |name: &str, f: &bench::Figure| {
                format!(
                    "{name:<10} {:>9} payments in {:.3} s = {:>12.0} /s   latency p50 {} µs  p90 {} µs  p99 {} µs  max {} µs\n",
                    f.payments,
                    f.seconds,
                    f.per_second,
                    f.latency.p50_us,
                    f.latency.p90_us,
                    f.latency.p99_us,
                    f.latency.max_us
                )
            };
            let text = format!(
                "{}{}(co-signed: batches of {} in {} calls at once; PayWord: {} words a message)\n",
                line("co-signed", &r.cosigned),
                line("PayWord", &r.payword),
                r.batch,
                r.concurrency,
                r.words_per_message
            );
            print(args.json, &serde_json::to_value(&r)?, text)
        }
        ChannelCommand::Open {
            peer,
            asset,
            deposit,
            challenge_blocks,
            payword: true,
            payments,
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let view = client
                .payword_open(PaywordOpenParams {
                    peer: peer_arg(&keys, peer)?,
                    asset: asset.clone(),
                    deposit: deposit.to_string(),
                    payments: payments.context("--payword needs --payments N")?,
                    base_units: args.base_units,
                    challenge_blocks: *challenge_blocks,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "opened PayWord channel {} to {}\n  {} payments of {}\n",
                view.id,
                view.peer,
                view.length,
                amount_text(&list, &view.id, view.unit_amount)
            );
            print(args.json, &serde_json::to_value(&view)?, text)
        }
        ChannelCommand::Open {
            peer,
            asset,
            deposit,
            challenge_blocks,
            payword: false,
            ..
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let view = client
                .open(OpenParams {
                    peer: peer_arg(&keys, peer)?,
                    asset: asset.clone(),
                    deposit: deposit.to_string(),
                    base_units: args.base_units,
                    challenge_blocks: *challenge_blocks,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "opened channel {} with {}\n  challenge window {} blocks\n",
                view.id, view.peer, view.challenge_blocks
            );
            print(args.json, &serde_json::to_value(&view)?, text)
        }
        ChannelCommand::Pay {
            to,
            amount,
            count,
            payword: true,
            ..
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let r = client
                .payword_pay(PayParams {
                    to: resolve_address(&keys, to)?,
                    amount: amount.to_string(),
                    base_units: args.base_units,
                    count: Some(*count),
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "paid {} in {} PayWord payment(s) on channel {}\n  {} acknowledged, {} left\n",
                amount_text(&list, &r.channel, r.paid),
                r.words,
                r.channel,
                r.depth,
                r.remaining
            );
            print(args.json, &serde_json::to_value(&r)?, text)
        }
        ChannelCommand::Pay {
            to,
            amount,
            count,
            via: Some(via),
            ..
        } => {
            if *count != 1 {
                bail!("--via pays once: drop --count");
            }
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let r = client
                .pay_via(PayViaParams {
                    to: resolve_address(&keys, to)?,
                    via: resolve_address(&keys, via)?,
                    amount: amount.to_string(),
                    base_units: args.base_units,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let units = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "paid {} to {} via {} in {} ms
  receipt (the payee's secret) {}
",
                amount_text(&units, &r.channel, r.amount),
                r.payee,
                r.via,
                r.elapsed_ms,
                r.secret
            );
            print(args.json, &serde_json::to_value(&r)?, text)
        }
        ChannelCommand::Withdraw { channel, amount } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let channel = channel
                .parse()
                .map_err(|e| anyhow::anyhow!("--channel: {e}"))?;
            let view = client
                .withdraw(WithdrawParams {
                    channel,
                    amount: amount.to_string(),
                    base_units: args.base_units,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "withdrew {} from channel {}; version {}: mine {}, theirs {}
",
                amount,
                view.id,
                view.version,
                amount_text(&list, &view.id, view.mine),
                amount_text(&list, &view.id, view.theirs)
            );
            print(args.json, &serde_json::to_value(&view)?, text)
        }
        ChannelCommand::Pay {
            to,
            amount,
            count,
            via: None,
            ..
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let to = resolve_address(&keys, to)?;
            let r = client
                .pay(PayParams {
                    to,
                    amount: amount.to_string(),
                    base_units: args.base_units,
                    count: Some(*count),
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let units = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let fmt = |v: u128| amount_text(&units, &r.channel, v);
            let text = format!(
                "paid {} in {} payment(s) on channel {}\n  version {}: mine {}, theirs {}\n",
                fmt(r.paid),
                r.count,
                r.channel,
                r.version,
                fmt(r.mine),
                fmt(r.theirs)
            );
            print(args.json, &serde_json::to_value(&r)?, text)
        }
        ChannelCommand::Deposit {
            peer,
            channel,
            amount,
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let peer = peer
                .as_deref()
                .map(|p| resolve_address(&keys, p))
                .transpose()?;
            let channel = channel
                .as_deref()
                .map(|c| c.parse().map_err(|e| anyhow::anyhow!("--channel: {e}")))
                .transpose()?;
            let view = client
                .deposit(DepositParams {
                    peer,
                    channel,
                    amount: amount.to_string(),
                    base_units: args.base_units,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = format!(
                "deposited on channel {}; version {}: mine {}, theirs {}\n",
                view.id,
                view.version,
                amount_text(&list, &view.id, view.mine),
                amount_text(&list, &view.id, view.theirs)
            );
            print(args.json, &serde_json::to_value(&view)?, text)
        }
        ChannelCommand::Close {
            peer,
            channel,
            unilateral,
        } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let peer = peer
                .as_deref()
                .map(|p| resolve_address(&keys, p))
                .transpose()?;
            let channel = channel
                .as_deref()
                .map(|c| c.parse().map_err(|e| anyhow::anyhow!("--channel: {e}")))
                .transpose()?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let payword_role = channel.and_then(|id| {
                list.paywords
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| p.role.as_str())
            });
            if let Some(id) = channel
                && payword_role == Some("payee")
            {
                if *unilateral {
                    bail!(
                        "invalid_input: a PayWord channel is closed by its payee's claim; drop --unilateral"
                    );
                }
                let view = client
                    .payword_claim(PaywordClaimParams { channel: id })
                    .await
                    .map_err(|e| coded(control::call_error(e)))?;
                let text = format!(
                    "claimed {} ({} payments) on PayWord channel {}; the rest went back to the payer\n",
                    amount_text(&list, &id, view.paid),
                    view.depth,
                    view.id
                );
                return print(args.json, &serde_json::to_value(&view)?, text);
            }
            let view = client
                .close(CloseParams {
                    peer,
                    channel,
                    unilateral: *unilateral,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let text = match view.deadline_height {
                Some(h) if payword_role == Some("payer") => format!(
                    "closing PayWord channel {}; the payee may claim until height {h}, the rest comes back after it\n",
                    view.id
                ),
                Some(h) => format!(
                    "closing channel {} alone at version {}; disputes until height {h}, settled after it\n",
                    view.id, view.version
                ),
                None => format!(
                    "closed channel {} at version {} (paid on chain)\n",
                    view.id, view.version
                ),
            };
            print(args.json, &serde_json::to_value(&view)?, text)
        }
        ChannelCommand::List => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let list = client
                .list()
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            let mut text = format!(
                "node {} listening on {}; watching {} channel(s) for others\n",
                list.address, list.listen, list.watched
            );
            if list.channels.is_empty() && list.paywords.is_empty() {
                text.push_str("no channels\n");
            }
            for p in &list.paywords {
                let fmt = |v: u128| amount_text(&list, &p.id, v);
                text.push_str(&format!(
                    "{} payword {} {} {}: {} of {} payments of {}, {} paid\n",
                    p.id,
                    p.role,
                    if p.role == "payer" { "to" } else { "from" },
                    p.peer,
                    p.depth,
                    p.length,
                    fmt(p.unit_amount),
                    fmt(p.paid)
                ));
            }
            for c in &list.channels {
                let fmt = |v: u128| amount_text(&list, &c.id, v);
                text.push_str(&format!(
                    "{} {:<7} peer {} version {} mine {} theirs {}{}{}{}\n",
                    c.id,
                    c.phase,
                    c.peer,
                    c.version,
                    fmt(c.mine),
                    fmt(c.theirs),
                    if c.locks > 0 {
                        format!(" locked {} in {} lock(s)", fmt(c.locked), c.locks)
                    } else {
                        String::new()
                    },
                    c.deadline_height
                        .map(|h| format!(" deadline {h}"))
                        .unwrap_or_default(),
                    if c.connected { "" } else { " (peer offline)" }
                ));
            }
            print(args.json, &serde_json::to_value(&list)?, text)
        }
        ChannelCommand::Watch { tower } => {
            let client = control::client(&control_url(&args)?).map_err(coded)?;
            let n = client
                .watch(WatchParams {
                    tower: peer_arg(&keys, tower)?,
                })
                .await
                .map_err(|e| coded(control::call_error(e)))?;
            print(
                args.json,
                &serde_json::json!({ "sent": n }),
                format!("sent {n} channel state(s) to the watchtower\n"),
            )
        }
    }
}

/// `v` base units of the channel's asset, with decimals and symbol when known.
fn amount_text(
    list: &ListAnswer,
    channel: &lakh_types::modules::channel::ChannelId,
    v: u128,
) -> String {
    let asset = list
        .channels
        .iter()
        .find(|c| c.id == *channel)
        .map(|c| c.asset)
        .or_else(|| {
            list.paywords
                .iter()
                .find(|p| p.id == *channel)
                .map(|p| p.asset)
        });
    match asset.and_then(|a| list.assets.iter().find(|u| u.id == a)) {
        Some(u) => format!("{} {}", format_units(v, u.decimals), u.symbol),
        None => format!("{v} base units"),
    }
}

async fn serve(
    args: &ChannelArgs,
    listen: &str,
    rpc: &str,
    control_addr: std::net::SocketAddr,
    poll_ms: u64,
) -> anyhow::Result<()> {
    let name = args.key.as_deref().context("serve needs --key NAME")?;
    let keys = keys_dir(args)?;
    let key = load_key(&keys, name)?;
    let data = data_dir(args)?;
    crate::keys::create_private_dir(&data)?;
    if !control_addr.ip().is_loopback() {
        bail!("the control port must be on loopback (it spends the key's channels)");
    }
    let chain = Chain::connect(rpc, key.clone()).await.map_err(coded)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?.to_string();
    let node = Node::open(key, &data, bound.clone(), Some(chain))?;
    tokio::spawn(node.clone().serve(listener));
    let (control_bound, handle) = control::start(
        control::Control::new(node.clone(), bound.clone()),
        control_addr,
    )
    .await?;
    let control = format!("http://{control_bound}");
    let info = serde_json::json!({
        "ready": true,
        "address": node.address(),
        "listen": bound,
        "control": control,
        "data": data,
    });
    let path = data.join("control.json");
    let tmp = data.join("control.json.tmp");
    std::fs::write(&tmp, info.to_string())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{info}");
    let n = node.clone();
    tokio::spawn(async move { n.reconnect_all().await });
    tokio::spawn(
        node.clone()
            .watch_chain(Duration::from_millis(poll_ms.max(50))),
    );
    tokio::signal::ctrl_c().await?;
    let _ = handle.stop();
    Ok(())
}

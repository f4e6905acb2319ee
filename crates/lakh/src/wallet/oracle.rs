//! `lakh wallet oracle`: configure feeds (admin), post prices (reporters),
//! read the median price.
//!
//! Prices are given as decimal numbers of quote units per WHOLE token (e.g.
//! `--price 3000.25`); the wallet scales them by 1e18 exactly (no floating
//! point), which is what the chain stores.

use super::{Ctx, Output, SendOpts, query_typed_output, resolve_asset, send_action};
use crate::keys::{load_key, resolve_address};
use anyhow::{Context, bail};
use lakh_types::{
    Action,
    codec::BoundedVec,
    modules::oracle::{MAX_REPORTERS, OracleAction, query::PriceAnswer},
};
use serde_json::json;

#[derive(clap::Subcommand, Debug)]
pub enum OracleCommand {
    /// Admin: create or replace the price feed of an asset
    SetFeed {
        /// Key name of the chain admin
        #[arg(long)]
        from: String,
        /// Asset symbol or id
        #[arg(long)]
        asset: String,
        /// Authorized reporters: key names or addresses, comma separated
        #[arg(long, value_delimiter = ',', required = true)]
        reporters: Vec<String>,
        /// A report older than this many blocks is stale
        #[arg(long)]
        max_age: u64,
        /// Fresh reports needed for a price
        #[arg(long, default_value_t = 1)]
        min_reports: u8,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Admin: delete the price feed of an asset
    RemoveFeed {
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Reporter: post a price
    Post {
        /// Key name of an authorized reporter
        #[arg(long)]
        from: String,
        #[arg(long)]
        asset: String,
        /// Quote units per whole token, as a decimal (e.g. 3000.25)
        #[arg(long)]
        price: String,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show an asset's median price, its freshness and the reports
    Price {
        #[arg(long)]
        asset: String,
    },
}

/// Parses a non-negative decimal (`"3000.25"`, `"0.8"`, `"12"`) into an
/// integer scaled by 1e18, exactly; refuses more than 18 decimals and values
/// past u128.
pub(crate) fn parse_wad(s: &str) -> anyhow::Result<u128> {
    const DECIMALS: usize = 18;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !(digits(int) || (int.is_empty() && digits(frac))) || !(frac.is_empty() || digits(frac)) {
        bail!("{s:?} is not a decimal number");
    }
    if frac.len() > DECIMALS {
        bail!("{s:?} has more than {DECIMALS} decimals");
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().context("integer part")?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>()? * 10u128.pow((DECIMALS - frac.len()) as u32)
    };
    int.checked_mul(10u128.pow(DECIMALS as u32))
        .and_then(|v| v.checked_add(frac_value))
        .with_context(|| format!("{s:?} is too large"))
}

/// `v` (scaled by 1e18) as a decimal, exactly.
pub(crate) fn format_wad(v: u128) -> String {
    const ONE: u128 = 1_000_000_000_000_000_000;
    let frac = v % ONE;
    if frac == 0 {
        return (v / ONE).to_string();
    }
    let frac = format!("{frac:018}");
    format!("{}.{}", v / ONE, frac.trim_end_matches('0'))
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: OracleCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    match cmd {
        OracleCommand::SetFeed {
            from,
            asset,
            reporters,
            max_age,
            min_reports,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let reporters = reporters
                .iter()
                .map(|r| resolve_address(ctx.keys_dir, r.trim()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let count = reporters.len();
            let reporters = BoundedVec::new(reporters).with_context(|| {
                format!("{count} reporters given, a feed takes at most {MAX_REPORTERS}")
            })?;
            let action = OracleAction::SetFeed {
                asset,
                reporters,
                max_age_blocks: max_age,
                min_reports,
            };
            lakh_types::modules::oracle::check(&action).map_err(anyhow::Error::msg)?;
            send_action(client, &key, Action::Oracle(action), &send).await
        }
        OracleCommand::RemoveFeed { from, asset, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let action = Action::Oracle(OracleAction::RemoveFeed { asset });
            send_action(client, &key, action, &send).await
        }
        OracleCommand::Post {
            from,
            asset,
            price,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let asset = resolve_asset(client, &asset).await?.id;
            let price = parse_wad(&price).context("--price")?;
            if price == 0 {
                bail!("--price must be positive");
            }
            let action = Action::Oracle(OracleAction::Post { asset, price });
            send_action(client, &key, action, &send).await
        }
        OracleCommand::Price { asset } => {
            let asset = resolve_asset(client, &asset).await?;
            let (answer, mut out): (PriceAnswer, _) =
                query_typed_output(client, "oracle", "price", json!({ "asset": asset.id })).await?;
            if let Some(price) = answer.price {
                let line = format!(
                    "{} = {} quote units per whole token\n",
                    asset.symbol,
                    format_wad(price)
                );
                out.text.insert_str(0, &line);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_prices_scale_exactly() {
        let one = 10u128.pow(18);
        assert_eq!(parse_wad("3000.25").unwrap(), 3_000 * one + one / 4);
        assert_eq!(parse_wad("0.8").unwrap(), one / 10 * 8);
        assert_eq!(parse_wad(".5").unwrap(), one / 2);
        assert_eq!(parse_wad("12").unwrap(), 12 * one);
        assert_eq!(parse_wad("0.000000000000000001").unwrap(), 1);
        assert!(parse_wad("0.0000000000000000001").is_err());
        assert!(parse_wad("1e5").is_err());
        assert!(parse_wad("-1").is_err());
        assert!(parse_wad("").is_err());
        assert!(parse_wad(".").is_err());
        assert!(parse_wad("1.2.3").is_err());
        assert!(parse_wad("999999999999999999999999").is_err());
        assert_eq!(format_wad(3_000 * one + one / 4), "3000.25");
        assert_eq!(format_wad(7 * one), "7");
        assert_eq!(format_wad(1), "0.000000000000000001");
    }
}

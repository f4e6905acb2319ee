//! `lakh wallet book`: order book markets. Sending commands wait for finality
//! and print what happened (fills, the new order id, refunds, payouts);
//! queries print the node's answer.
//!
//! Quantities are base units (a multiple of the market's lot size); prices
//! are quote units per lot (a multiple of its tick size).

use super::{
    Ctx, Output, SendOpts, query_answer, query_output, query_typed_output, resolve_asset,
    send_action,
};
use crate::keys::{load_key, resolve_address};
use anyhow::{Context, bail};
use lakh_rpc::LakhClient;
use lakh_types::{
    Action,
    modules::book::{
        BookAction, BookEvent, MarketRef, OrderKind, Side, TimeInForce,
        query::{BookAnswer, Level, MarketAnswer},
        validate,
    },
};
use serde_json::{Value, json};
use std::fmt::Write as _;

#[derive(clap::Subcommand, Debug)]
pub enum BookCommand {
    /// Admin: open a market trading --base against --quote
    CreateMarket {
        /// Key name of the chain admin
        #[arg(long)]
        from: String,
        /// Id of the new market (not yet used)
        #[arg(long)]
        market: u32,
        /// Base asset symbol or id
        #[arg(long)]
        base: String,
        /// Quote asset symbol or id
        #[arg(long)]
        quote: String,
        /// Price increment, in quote units per lot
        #[arg(long)]
        tick_size: u128,
        /// Quantity increment, in base units
        #[arg(long)]
        lot_size: u128,
        /// Fee on makers' proceeds, in basis points of the quote value
        #[arg(long, default_value_t = 0)]
        maker_fee_bps: u16,
        /// Fee on takers, in basis points of the quote value
        #[arg(long, default_value_t = 0)]
        taker_fee_bps: u16,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Place a limit or market order
    Place {
        #[arg(long)]
        from: String,
        #[arg(long)]
        market: u32,
        /// buy or sell
        #[arg(long)]
        side: Side,
        /// Limit price in quote units per lot (not for market orders)
        #[arg(long)]
        price: Option<u128>,
        /// Base units
        #[arg(long)]
        quantity: u128,
        /// gtc, ioc, fok or post-only [default: gtc, ioc for market orders]
        #[arg(long)]
        tif: Option<TimeInForce>,
        /// limit or market
        #[arg(long = "type", default_value = "limit")]
        kind: OrderKind,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Cancel one of your resting orders
    Cancel {
        #[arg(long)]
        from: String,
        #[arg(long)]
        market: u32,
        #[arg(long)]
        order: u64,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Cancel all your resting orders in a market
    CancelAll {
        #[arg(long)]
        from: String,
        #[arg(long)]
        market: u32,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Pay out claimable proceeds (yours, or --owner's: they go to the owner)
    Settle {
        #[arg(long)]
        from: String,
        #[arg(long)]
        market: u32,
        /// Key name or address whose proceeds to pay out [default: --from]
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Admin: withdraw a market's accrued fees
    WithdrawFees {
        #[arg(long)]
        from: String,
        #[arg(long)]
        market: u32,
        /// Key name or address receiving the fees
        #[arg(long)]
        to: String,
        /// Quote units [default: everything accrued]
        #[arg(long)]
        amount: Option<u128>,
        #[command(flatten)]
        send: SendOpts,
    },
    /// Show a market: parameters, fees accrued, best prices, custody
    Market {
        #[arg(long)]
        market: u32,
    },
    /// Show the book: the best price levels of each side
    Book {
        #[arg(long)]
        market: u32,
        /// Levels per side
        #[arg(long, default_value_t = 20)]
        depth: usize,
    },
    /// Show a resting order
    Order {
        #[arg(long)]
        market: u32,
        #[arg(long)]
        order: u64,
    },
    /// Show an owner's unsettled proceeds in a market
    Claimable {
        #[arg(long)]
        market: u32,
        /// Key name or address
        #[arg(long)]
        owner: String,
    },
    /// List an owner's resting orders in a market
    Orders {
        #[arg(long)]
        market: u32,
        /// Key name or address
        #[arg(long)]
        owner: String,
    },
}

pub(crate) async fn run(ctx: &Ctx<'_>, cmd: BookCommand) -> anyhow::Result<Output> {
    let client = ctx.client;
    match cmd {
        BookCommand::CreateMarket {
            from,
            market,
            base,
            quote,
            tick_size,
            lot_size,
            maker_fee_bps,
            taker_fee_bps,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let action = BookAction::CreateMarket {
                market,
                base: resolve_asset(client, &base).await?.id,
                quote: resolve_asset(client, &quote).await?.id,
                tick_size,
                lot_size,
                maker_fee_bps,
                taker_fee_bps,
            };
            send_book(client, &key, action, &send).await
        }
        BookCommand::Place {
            from,
            market,
            side,
            price,
            quantity,
            tif,
            kind,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let r = market_ref(client, market).await?;
            let action = place_action(r, side, kind, price, quantity, tif)?;
            send_book(client, &key, action, &send).await
        }
        BookCommand::Cancel {
            from,
            market,
            order,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let r = market_ref(client, market).await?;
            send_book(client, &key, BookAction::Cancel { market: r, order }, &send).await
        }
        BookCommand::CancelAll { from, market, send } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let r = market_ref(client, market).await?;
            send_book(client, &key, BookAction::CancelAll { market: r }, &send).await
        }
        BookCommand::Settle {
            from,
            market,
            owner,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let owner = resolve_address(ctx.keys_dir, owner.as_deref().unwrap_or(&from))?;
            let r = market_ref(client, market).await?;
            send_book(client, &key, BookAction::Settle { market: r, owner }, &send).await
        }
        BookCommand::WithdrawFees {
            from,
            market,
            to,
            amount,
            send,
        } => {
            let key = load_key(ctx.keys_dir, &from)?;
            let to = resolve_address(ctx.keys_dir, &to)?;
            let r = market_ref(client, market).await?;
            let action = BookAction::WithdrawFees {
                market: r,
                to,
                amount,
            };
            send_book(client, &key, action, &send).await
        }
        BookCommand::Market { market } => {
            query_output(client, "book", "market", json!({ "market": market })).await
        }
        BookCommand::Book { market, depth } => {
            let (answer, mut out): (BookAnswer, _) = query_typed_output(
                client,
                "book",
                "book",
                json!({ "market": market, "depth": depth }),
            )
            .await?;
            out.text = describe_book(&answer);
            Ok(out)
        }
        BookCommand::Order { market, order } => {
            query_output(
                client,
                "book",
                "order",
                json!({ "market": market, "order": order }),
            )
            .await
        }
        BookCommand::Claimable { market, owner } => {
            let owner = resolve_address(ctx.keys_dir, &owner)?;
            query_output(
                client,
                "book",
                "claimable",
                json!({ "market": market, "owner": owner }),
            )
            .await
        }
        BookCommand::Orders { market, owner } => {
            let owner = resolve_address(ctx.keys_dir, &owner)?;
            query_output(
                client,
                "book",
                "orders",
                json!({ "market": market, "owner": owner }),
            )
            .await
        }
    }
}

/// The market `id` with its assets, as actions must name it.
async fn market_ref(client: &LakhClient, id: u32) -> anyhow::Result<MarketRef> {
    let info: MarketAnswer = query_answer(client, "book", "market", json!({ "market": id }))
        .await
        .with_context(|| format!("looking up market {id}"))?;
    Ok(MarketRef {
        id,
        base: info.base,
        quote: info.quote,
    })
}

/// The placement the flags describe, checked as ingest would check it.
fn place_action(
    market: MarketRef,
    side: Side,
    kind: OrderKind,
    price: Option<u128>,
    quantity: u128,
    tif: Option<TimeInForce>,
) -> anyhow::Result<BookAction> {
    let price = match (kind, price) {
        (OrderKind::Limit, Some(p)) => p,
        (OrderKind::Limit, None) => bail!("a limit order needs --price"),
        (OrderKind::Market, None) => 0,
        (OrderKind::Market, Some(_)) => {
            bail!("a market order takes no --price; use a limit order with --tif ioc to cap it")
        }
    };
    let tif = tif.unwrap_or(match kind {
        OrderKind::Limit => TimeInForce::Gtc,
        OrderKind::Market => TimeInForce::Ioc,
    });
    let action = BookAction::Place {
        market,
        side,
        kind,
        price,
        quantity,
        tif,
    };
    validate(&action).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(action)
}

async fn send_book(
    client: &LakhClient,
    key: &lakh_types::PrivateKey,
    action: BookAction,
    send: &SendOpts,
) -> anyhow::Result<Output> {
    validate(&action).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = send_action(client, key, Action::Book(action), send).await?;
    let receipt = super::receipt_of(&out).context("the node's receipt does not parse")?;
    let events: Vec<BookEvent> = receipt
        .events
        .iter()
        .filter_map(|e| match e {
            lakh_types::Event::Book(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let (json, text) = summarize(&events);
    out.json["book"] = json;
    out.text.push_str(&text);
    Ok(out)
}

/// What a book transaction did, for people and for scripts.
fn summarize(events: &[BookEvent]) -> (Value, String) {
    let mut text = String::new();
    let mut order = None;
    let mut fills = Vec::new();
    let mut cancelled = Vec::new();
    let mut summary = json!({});
    for e in events {
        match e {
            BookEvent::MarketCreated { market, .. } => {
                let _ = writeln!(text, "market      {market} created");
                summary["market"] = json!(market);
            }
            BookEvent::Fill {
                maker_order,
                price,
                quantity,
                quote,
                ..
            } => {
                let _ = writeln!(
                    text,
                    "fill        {quantity} at {price} ({quote} quote) against order {maker_order}"
                );
                fills.push(json!({
                    "maker_order": maker_order,
                    "price": price.to_string(),
                    "quantity": quantity.to_string(),
                    "quote": quote.to_string(),
                }));
            }
            BookEvent::Taken {
                order: id,
                quantity,
                quote,
                fee,
                ..
            } => {
                order = Some(*id);
                let _ = writeln!(
                    text,
                    "filled      {quantity} for {quote} quote, taker fee {fee}"
                );
                summary["filled"] = json!(quantity.to_string());
                summary["quote"] = json!(quote.to_string());
                summary["taker_fee"] = json!(fee.to_string());
            }
            BookEvent::Rested {
                order: id,
                price,
                quantity,
                locked,
                ..
            } => {
                order = Some(*id);
                let _ = writeln!(text, "resting     {quantity} at {price}, {locked} locked");
                summary["resting"] = json!(quantity.to_string());
                summary["locked"] = json!(locked.to_string());
            }
            BookEvent::Unfilled {
                order: id,
                quantity,
                ..
            } => {
                order = Some(*id);
                let _ = writeln!(text, "unfilled    {quantity} dropped");
                summary["unfilled"] = json!(quantity.to_string());
            }
            BookEvent::Cancelled {
                order: id,
                quantity,
                refund,
                reason,
                ..
            } => {
                let _ = writeln!(
                    text,
                    "cancelled   order {id} ({reason}): {quantity} unfilled, {refund} returned"
                );
                cancelled.push(json!({
                    "order": id,
                    "reason": reason,
                    "quantity": quantity.to_string(),
                    "refund": refund.to_string(),
                }));
            }
            BookEvent::Settled { base, quote, .. } => {
                let _ = writeln!(text, "settled     {base} base, {quote} quote paid out");
                summary["settled_base"] = json!(base.to_string());
                summary["settled_quote"] = json!(quote.to_string());
            }
            BookEvent::FeesWithdrawn { to, amount, .. } => {
                let _ = writeln!(text, "withdrawn   {amount} fees to {to}");
                summary["withdrawn"] = json!(amount.to_string());
            }
        }
    }
    if let Some(id) = order {
        text.insert_str(0, &format!("order id    {id}\n"));
        summary["order"] = json!(id);
    }
    if !fills.is_empty() {
        summary["fills"] = Value::Array(fills);
    }
    if !cancelled.is_empty() {
        summary["cancelled"] = Value::Array(cancelled);
    }
    (summary, text)
}

/// The book as two columns of levels, asks above bids.
fn describe_book(answer: &BookAnswer) -> String {
    let mut text = String::new();
    let level = |l: &Level| format!("{:>24} {:>24} ({} orders)\n", l.price, l.quantity, l.orders);
    let _ = writeln!(
        text,
        "market {}\n{:>24} {:>24}",
        answer.market, "price", "quantity"
    );
    for l in answer.asks.iter().rev() {
        text.push_str("ask ");
        text.push_str(&level(l));
    }
    if answer.asks.is_empty() {
        text.push_str("no asks\n");
    }
    text.push_str("----\n");
    for l in &answer.bids {
        text.push_str("bid ");
        text.push_str(&level(l));
    }
    if answer.bids.is_empty() {
        text.push_str("no bids\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::{Address, AssetId};

    const M: MarketRef = MarketRef {
        id: 1,
        base: AssetId(100),
        quote: AssetId(0),
    };

    #[test]
    fn place_flags_become_checked_actions() {
        let a = place_action(M, Side::Buy, OrderKind::Limit, Some(500), 10, None).unwrap();
        assert_eq!(
            a,
            BookAction::Place {
                market: M,
                side: Side::Buy,
                kind: OrderKind::Limit,
                price: 500,
                quantity: 10,
                tif: TimeInForce::Gtc
            }
        );
        let a = place_action(M, Side::Sell, OrderKind::Market, None, 10, None).unwrap();
        assert!(matches!(
            a,
            BookAction::Place {
                price: 0,
                tif: TimeInForce::Ioc,
                ..
            }
        ));
        let err = |r: anyhow::Result<BookAction>| r.unwrap_err().to_string();
        assert!(
            err(place_action(M, Side::Buy, OrderKind::Limit, None, 10, None)).contains("--price")
        );
        assert!(
            err(place_action(
                M,
                Side::Buy,
                OrderKind::Market,
                Some(1),
                10,
                None
            ))
            .contains("no --price")
        );
        assert!(
            err(place_action(
                M,
                Side::Buy,
                OrderKind::Market,
                None,
                10,
                Some(TimeInForce::Gtc)
            ))
            .contains("ioc or fok")
        );
        assert!(
            err(place_action(
                M,
                Side::Buy,
                OrderKind::Limit,
                Some(5),
                0,
                None
            ))
            .contains("quantity must be positive")
        );
    }

    #[test]
    fn summary_names_the_order_fills_and_refunds() {
        let events = vec![
            BookEvent::Cancelled {
                market: 1,
                order: 3,
                owner: Address([1; 32]),
                side: Side::Sell,
                price: 500,
                quantity: 20,
                refund: 20,
                reason: lakh_types::modules::book::CancelReason::SelfTrade,
            },
            BookEvent::Fill {
                market: 1,
                taker_order: 6,
                maker_order: 5,
                maker: Address([2; 32]),
                taker_side: Side::Buy,
                price: 505,
                quantity: 20,
                quote: 1_010,
                maker_fee: 2,
            },
            BookEvent::Taken {
                market: 1,
                order: 6,
                side: Side::Buy,
                quantity: 20,
                quote: 1_010,
                fee: 4,
            },
            BookEvent::Rested {
                market: 1,
                order: 6,
                owner: Address([1; 32]),
                side: Side::Buy,
                price: 505,
                quantity: 10,
                locked: 506,
            },
        ];
        let (json, text) = summarize(&events);
        assert_eq!(json["order"], 6);
        assert_eq!(json["filled"], "20");
        assert_eq!(json["resting"], "10");
        assert_eq!(json["fills"][0]["maker_order"], 5);
        assert_eq!(json["cancelled"][0]["reason"], "self_trade");
        assert!(text.starts_with("order id    6\n"), "{text}");
        assert!(text.contains("fill        20 at 505"), "{text}");
    }

    #[test]
    fn book_text_lists_asks_above_bids() {
        let answer: BookAnswer = serde_json::from_value(json!({
            "market": 1,
            "asks": [{"price": "510", "quantity": "10", "orders": 1},
                     {"price": "520", "quantity": "5", "orders": 2}],
            "bids": [],
        }))
        .unwrap();
        let text = describe_book(&answer);
        let ask_520 = text.find("520").unwrap();
        let ask_510 = text.find("510").unwrap();
        assert!(ask_520 < ask_510, "{text}");
        assert!(text.contains("no bids"), "{text}");
    }
}

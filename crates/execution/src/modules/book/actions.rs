//! The order book's actions.

use super::math::{self, base_units, crosses, locked, notional, price_quote};
use super::state::{
    MAX_SEQ, Market, Order, OwnerEntry, SideState, custody, market_key, order_id, side_key,
};
use crate::modules::kit::{ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, fail, require_admin};
use crate::modules::kit::{asset_exists, load, move_asset, remove, store};
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    codec::{BoundedVec, Text},
    modules::book::{
        BookAction, BookError, BookEvent, CancelReason, MAX_ORDERS_PER_OWNER, MAX_ORDERS_PER_SIDE,
        MAX_OWNERS_PER_SIDE, MarketRef, OrderKind, Side, TimeInForce, validate,
    },
};

fn inconsistent(detail: &str) -> ActionError {
    fail(BookError::Inconsistent {
        detail: Text::clipped(detail),
    })
}

/// `*slot += amount`, refusing overflow.
fn add(slot: &mut u128, amount: u128) -> Result<(), ActionError> {
    *slot = slot.checked_add(amount).or_overflow()?;
    Ok(())
}

pub(super) fn execute(
    ctx: &TxContext,
    action: &BookAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    validate(action).map_err(fail)?;
    match action {
        BookAction::CreateMarket {
            market,
            base,
            quote,
            tick_size,
            lot_size,
            maker_fee_bps,
            taker_fee_bps,
        } => {
            require_admin(view, &ctx.sender)?;
            let key = market_key(*market);
            if load::<Market>(view, &key)?.is_some() {
                return Err(fail(BookError::MarketExists { market: *market }));
            }
            for asset in [*base, *quote] {
                if !asset_exists(view, asset)? {
                    return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
                }
            }
            let m = Market {
                base: *base,
                quote: *quote,
                tick_size: *tick_size,
                lot_size: *lot_size,
                maker_fee_bps: *maker_fee_bps,
                taker_fee_bps: *taker_fee_bps,
                next_seq: 1,
                fees: 0,
                created_height: ctx.height,
            };
            store(view, &key, &m)?;
            events.push(Event::Book(BookEvent::MarketCreated {
                market: *market,
                base: *base,
                quote: *quote,
                tick_size: *tick_size,
                lot_size: *lot_size,
                maker_fee_bps: *maker_fee_bps,
                taker_fee_bps: *taker_fee_bps,
            }));
            Ok(())
        }
        BookAction::Place {
            market,
            side,
            kind,
            price,
            quantity,
            tif,
        } => place(
            ctx,
            view,
            events,
            Placement {
                market: *market,
                side: *side,
                kind: *kind,
                price: *price,
                quantity: *quantity,
                tif: *tif,
            },
        ),
        BookAction::Cancel { market, order } => cancel(ctx, view, events, market, *order),
        BookAction::CancelAll { market } => cancel_all(ctx, view, events, market),
        BookAction::Settle { market, owner } => settle(view, events, market, owner),
        BookAction::WithdrawFees { market, to, amount } => {
            require_admin(view, &ctx.sender)?;
            let mut m = load_market(view, market)?;
            if m.fees == 0 {
                return Err(fail(BookError::NoFeesAccrued { market: market.id }));
            }
            let amount = amount.unwrap_or(m.fees);
            if amount > m.fees {
                return Err(fail(BookError::FeesInsufficient {
                    requested: amount,
                    accrued: m.fees,
                }));
            }
            m.fees -= amount;
            move_asset(view, m.quote, &custody(market.id), to, amount, events)?;
            store(view, &market_key(market.id), &m)?;
            events.push(Event::Book(BookEvent::FeesWithdrawn {
                market: market.id,
                to: *to,
                amount,
            }));
            Ok(())
        }
    }
}

/// The market `r` names, which must trade the assets `r` declares.
fn load_market(view: &impl View, r: &MarketRef) -> Result<Market, ActionError> {
    let m = load::<Market>(view, &market_key(r.id))?
        .ok_or_else(|| fail(BookError::UnknownMarket { market: r.id }))?;
    if !m.matches(r) {
        return Err(fail(BookError::WrongAssets {
            market: r.id,
            base: r.base,
            quote: r.quote,
            expected_base: m.base,
            expected_quote: m.quote,
        }));
    }
    Ok(m)
}

/// One side of a market's book, loaded for an action.
struct Book {
    market: u32,
    side: Side,
    owners: Vec<OwnerEntry>,
    orders: Vec<Order>,
    existed: bool,
    dirty: bool,
}

impl Book {
    fn load(view: &impl View, market: u32, side: Side) -> Result<Book, ActionError> {
        let stored = load::<SideState>(view, &side_key(market, side))?;
        let existed = stored.is_some();
        let state = stored.unwrap_or_default();
        Ok(Book {
            market,
            side,
            owners: state.owners.into_inner(),
            orders: state.orders.into_inner(),
            existed,
            dirty: false,
        })
    }

    fn owner(&self, index: u16) -> Result<&OwnerEntry, ActionError> {
        self.owners
            .get(index as usize)
            .ok_or_else(|| inconsistent("order names a missing owner entry"))
    }

    fn owner_mut(&mut self, index: u16) -> Result<&mut OwnerEntry, ActionError> {
        self.dirty = true;
        self.owners
            .get_mut(index as usize)
            .ok_or_else(|| inconsistent("order names a missing owner entry"))
    }

    /// The entry of `owner`, added if it has none.
    fn entry_for(&mut self, owner: &Address) -> Result<u16, ActionError> {
        if let Some(i) = self.owners.iter().position(|e| e.owner == *owner) {
            return Ok(i as u16);
        }
        if self.owners.len() >= MAX_OWNERS_PER_SIDE {
            return Err(fail(BookError::OwnerTableFull {
                side: self.side,
                max: MAX_OWNERS_PER_SIDE as u32,
            }));
        }
        self.owners.push(OwnerEntry {
            owner: *owner,
            base: 0,
            quote: 0,
            open: 0,
        });
        self.dirty = true;
        Ok((self.owners.len() - 1) as u16)
    }

    /// Removes order `i`, counting it off its owner's entry.
    fn take(&mut self, i: usize) -> Result<Order, ActionError> {
        let order = self.orders.remove(i);
        let entry = self.owner_mut(order.owner)?;
        entry.open = entry
            .open
            .checked_sub(1)
            .ok_or_else(|| inconsistent("owner entry counts fewer orders than rest"))?;
        Ok(order)
    }

    /// Empties `owner`'s claimable balances; returns (base, quote).
    fn claim(&mut self, owner: &Address) -> (u128, u128) {
        let Some(entry) = self.owners.iter_mut().find(|e| e.owner == *owner) else {
            return (0, 0);
        };
        let claimed = (entry.base, entry.quote);
        if claimed != (0, 0) {
            entry.base = 0;
            entry.quote = 0;
            self.dirty = true;
        }
        claimed
    }

    /// Credits funds of one of this side's orders that left the book
    /// without its owner to its owner's claimable balance.
    fn credit_lock(&mut self, owner: u16, amount: u128) -> Result<(), ActionError> {
        let side = self.side;
        let entry = self.owner_mut(owner)?;
        match side {
            Side::Buy => add(&mut entry.quote, amount),
            Side::Sell => add(&mut entry.base, amount),
        }
    }

    /// Drops owner entries with no orders and nothing to claim, renumbering
    /// the orders' owner indices.
    fn compact(&mut self) -> Result<(), ActionError> {
        let idle = |e: &OwnerEntry| e.open == 0 && e.base == 0 && e.quote == 0;
        if !self.owners.iter().any(idle) {
            return Ok(());
        }
        let mut renumber = vec![u16::MAX; self.owners.len()];
        let mut kept = Vec::with_capacity(self.owners.len());
        for (i, e) in self.owners.drain(..).enumerate() {
            if !idle(&e) {
                renumber[i] = kept.len() as u16;
                kept.push(e);
            }
        }
        self.owners = kept;
        for o in &mut self.orders {
            // An owner with orders has `open > 0`, so it was kept.
            o.owner = renumber
                .get(o.owner as usize)
                .copied()
                .filter(|i| *i != u16::MAX)
                .ok_or_else(|| inconsistent("order of an owner entry without orders"))?;
        }
        Ok(())
    }

    fn store(mut self, view: &mut impl View) -> Result<(), ActionError> {
        if !self.dirty {
            return Ok(());
        }
        self.compact()?;
        let key = side_key(self.market, self.side);
        if self.owners.is_empty() && self.orders.is_empty() {
            if self.existed {
                remove(view, &key)?;
            }
            return Ok(());
        }
        let state = SideState {
            owners: BoundedVec::new(self.owners)
                .ok_or_else(|| inconsistent("owner table over its bound"))?,
            orders: BoundedVec::new(self.orders)
                .ok_or_else(|| inconsistent("book side over its bound"))?,
        };
        store(view, &key, &state)
    }
}

/// What moves between one account and the market's custody, netted per
/// asset and applied once at the end of an action.
#[derive(Default)]
struct Flows {
    pay_base: u128,
    pay_quote: u128,
    get_base: u128,
    get_quote: u128,
}

impl Flows {
    /// `who` gets back funds locked by an order on `side`.
    fn refund(&mut self, side: Side, amount: u128) -> Result<(), ActionError> {
        match side {
            Side::Buy => add(&mut self.get_quote, amount),
            Side::Sell => add(&mut self.get_base, amount),
        }
    }

    /// `who` locks funds for an order resting on `side`.
    fn lock(&mut self, side: Side, amount: u128) -> Result<(), ActionError> {
        match side {
            Side::Buy => add(&mut self.pay_quote, amount),
            Side::Sell => add(&mut self.pay_base, amount),
        }
    }

    fn apply(
        self,
        view: &mut impl View,
        m: &Market,
        market: u32,
        who: &Address,
        events: &mut Vec<Event>,
    ) -> Result<(), ActionError> {
        let vault = custody(market);
        for (asset, pay, get) in [
            (m.base, self.pay_base, self.get_base),
            (m.quote, self.pay_quote, self.get_quote),
        ] {
            net(view, asset, who, &vault, pay, get, events)?;
        }
        Ok(())
    }
}

fn net(
    view: &mut impl View,
    asset: AssetId,
    who: &Address,
    vault: &Address,
    pay: u128,
    get: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if pay >= get {
        move_asset(view, asset, who, vault, pay - get, events)
    } else {
        move_asset(view, asset, vault, who, get - pay, events)
    }
}

/// Pays out what `owner` may claim on `books` (into `flows`), recording it.
fn settle_into(
    books: &mut [&mut Book],
    owner: &Address,
    flows: &mut Flows,
    market: u32,
    events: &mut Vec<Event>,
) -> Result<(u128, u128), ActionError> {
    let (mut base, mut quote) = (0u128, 0u128);
    for book in books.iter_mut() {
        let (b, q) = book.claim(owner);
        add(&mut base, b)?;
        add(&mut quote, q)?;
    }
    if (base, quote) != (0, 0) {
        add(&mut flows.get_base, base)?;
        add(&mut flows.get_quote, quote)?;
        events.push(Event::Book(BookEvent::Settled {
            market,
            owner: *owner,
            base,
            quote,
        }));
    }
    Ok((base, quote))
}

/// Lots in `quantity` base units.
fn lots_of(m: &Market, quantity: u128) -> Result<u64, BookError> {
    if !quantity.is_multiple_of(m.lot_size) {
        return Err(BookError::QuantityNotOnLot {
            quantity,
            lot_size: m.lot_size,
        });
    }
    u64::try_from(quantity / m.lot_size).map_err(|_| BookError::QuantityTooLarge {
        quantity,
        max: (u64::MAX as u128).saturating_mul(m.lot_size),
    })
}

/// Ticks in a price of `price` quote units per lot.
fn ticks_of(m: &Market, price: u128) -> Result<u64, BookError> {
    if !price.is_multiple_of(m.tick_size) {
        return Err(BookError::PriceNotOnTick {
            price,
            tick_size: m.tick_size,
        });
    }
    u64::try_from(price / m.tick_size).map_err(|_| BookError::PriceTooLarge {
        price,
        max: (u64::MAX as u128).saturating_mul(m.tick_size),
    })
}

struct Placement {
    market: MarketRef,
    side: Side,
    kind: OrderKind,
    price: u128,
    quantity: u128,
    tif: TimeInForce,
}

fn place(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    p: Placement,
) -> Result<(), ActionError> {
    let id = p.market.id;
    let mut m = load_market(view, &p.market)?;
    let lots = lots_of(&m, p.quantity).map_err(fail)?;
    let limit = limit_ticks(&m, &p, lots)?;
    let seq = m.next_seq;
    if seq > MAX_SEQ {
        return Err(fail(BookError::OrderIdsExhausted { market: id }));
    }
    m.next_seq = seq + 1;
    let taker = Taker {
        sender: ctx.sender,
        side: p.side,
        order: order_id(seq, p.side),
        limit,
    };

    let mut bids = Book::load(view, id, Side::Buy)?;
    let mut asks = Book::load(view, id, Side::Sell)?;
    let (own, opp) = match p.side {
        Side::Buy => (&mut bids, &mut asks),
        Side::Sell => (&mut asks, &mut bids),
    };
    if p.tif == TimeInForce::PostOnly
        && let Some(best) = opp.orders.first()
        && crosses(p.side, limit, best.price_ticks)
    {
        return Err(fail(BookError::WouldTake {
            price: p.price,
            best: price_quote(best.price_ticks, m.tick_size).or_overflow()?,
        }));
    }

    let mut flows = Flows::default();
    let taken = match_orders(&taker, &mut m, opp, lots, &mut flows, events)?;
    charge_taker(&taker, &mut m, id, &taken, &mut flows, events)?;
    let left = lots - taken.lots;
    if left > 0 {
        match (p.tif, limit) {
            (TimeInForce::Fok, _) => {
                return Err(fail(BookError::NotFillable {
                    quantity: p.quantity,
                    fillable: base_units(taken.lots, m.lot_size).or_overflow()?,
                }));
            }
            (TimeInForce::Gtc | TimeInForce::PostOnly, Some(ticks)) => {
                let rest = Rest {
                    order: taker.order,
                    seq,
                    ticks,
                    lots: left,
                };
                rest_order(ctx, own, &m, rest, &mut flows, events)?;
            }
            _ => events.push(Event::Book(BookEvent::Unfilled {
                market: id,
                order: taker.order,
                quantity: base_units(left, m.lot_size).or_overflow()?,
            })),
        }
    }

    settle_into(
        &mut [&mut bids, &mut asks],
        &ctx.sender,
        &mut flows,
        id,
        events,
    )?;
    flows.apply(view, &m, id, &ctx.sender, events)?;
    bids.store(view)?;
    asks.store(view)?;
    store(view, &market_key(id), &m)
}

/// A limit order's price in ticks (`None` for a market order), once its
/// whole value with the larger fee is known to fit: no later fill, lock or
/// claim of it can overflow.
fn limit_ticks(m: &Market, p: &Placement, lots: u64) -> Result<Option<u64>, ActionError> {
    if p.kind == OrderKind::Market {
        return Ok(None);
    }
    let ticks = ticks_of(m, p.price).map_err(fail)?;
    let bps = m.maker_fee_bps.max(m.taker_fee_bps);
    notional(p.price, lots)
        .and_then(|n| n.checked_add(math::fee(n, bps)?))
        .ok_or_else(|| {
            fail(BookError::NotionalOverflow {
                price: p.price,
                quantity: p.quantity,
            })
        })?;
    Ok(Some(ticks))
}

/// The incoming order, as matching sees it.
struct Taker {
    sender: Address,
    side: Side,
    order: u64,
    limit: Option<u64>,
}

/// What a taker took from the book.
#[derive(Default)]
struct Taken {
    lots: u64,
    quote: u128,
}

/// Matches up to `lots` against the opposite side in priority order while
/// prices cross, adding each fill's flows.
fn match_orders(
    t: &Taker,
    m: &mut Market,
    opp: &mut Book,
    lots: u64,
    flows: &mut Flows,
    events: &mut Vec<Event>,
) -> Result<Taken, ActionError> {
    let mut taken = Taken::default();
    let mut i = 0;
    while taken.lots < lots && i < opp.orders.len() {
        let maker = opp.orders[i];
        if !crosses(t.side, t.limit, maker.price_ticks) {
            break;
        }
        if opp.owner(maker.owner)?.owner == t.sender {
            cancel_self_trade(m, opp, i, flows, events)?;
            continue;
        }
        let k = (lots - taken.lots).min(maker.remaining_lots);
        let quote = fill(t, m, opp, &maker, k, flows, events)?;
        add(&mut taken.quote, quote)?;
        taken.lots += k;
        opp.orders[i].remaining_lots -= k;
        if opp.orders[i].remaining_lots == 0 {
            opp.take(i)?;
        } else {
            i += 1;
        }
    }
    Ok(taken)
}

/// Self-trade prevention: the taker's own resting order `i` is cancelled and
/// its funds returned; matching goes on past it.
fn cancel_self_trade(
    m: &Market,
    opp: &mut Book,
    i: usize,
    flows: &mut Flows,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let maker = opp.orders[i];
    let owner = opp.owner(maker.owner)?.owner;
    let maker_price = price_quote(maker.price_ticks, m.tick_size).or_overflow()?;
    let refund = locked(m, opp.side, &maker).or_overflow()?;
    opp.take(i)?;
    flows.refund(opp.side, refund)?;
    events.push(Event::Book(BookEvent::Cancelled {
        market: opp.market,
        order: order_id(maker.seq, opp.side),
        owner,
        side: opp.side,
        price: maker_price,
        quantity: base_units(maker.remaining_lots, m.lot_size).or_overflow()?,
        refund,
        reason: CancelReason::SelfTrade,
    }));
    Ok(())
}

/// Fills `k` lots of `maker` at its price: the maker's side becomes
/// claimable net of its fee, the taker's flows grow. Returns the quote.
fn fill(
    t: &Taker,
    m: &mut Market,
    opp: &mut Book,
    maker: &Order,
    k: u64,
    flows: &mut Flows,
    events: &mut Vec<Event>,
) -> Result<u128, ActionError> {
    let maker_price = price_quote(maker.price_ticks, m.tick_size).or_overflow()?;
    let quote = notional(maker_price, k).or_overflow()?;
    let base = base_units(k, m.lot_size).or_overflow()?;
    let maker_fee = math::maker_fee_for_fill(m, maker, k).or_overflow()?;
    let entry = opp.owner_mut(maker.owner)?;
    let maker_owner = entry.owner;
    match t.side {
        Side::Buy => {
            // The seller's proceeds, net of its fee, become claimable.
            add(
                &mut entry.quote,
                quote.checked_sub(maker_fee).or_overflow()?,
            )?;
            add(&mut flows.pay_quote, quote)?;
            add(&mut flows.get_base, base)?;
        }
        Side::Sell => {
            // The buyer's base becomes claimable; its lock pays the
            // taker and its fee.
            add(&mut entry.base, base)?;
            add(&mut flows.pay_base, base)?;
            add(&mut flows.get_quote, quote)?;
        }
    }
    add(&mut m.fees, maker_fee)?;
    events.push(Event::Book(BookEvent::Fill {
        market: opp.market,
        taker_order: t.order,
        maker_order: order_id(maker.seq, opp.side),
        maker: maker_owner,
        taker_side: t.side,
        price: maker_price,
        quantity: base,
        quote,
        maker_fee,
    }));
    Ok(quote)
}

/// The taker's fee on what it took, and the `taken` event.
fn charge_taker(
    t: &Taker,
    m: &mut Market,
    id: u32,
    taken: &Taken,
    flows: &mut Flows,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if taken.lots == 0 {
        return Ok(());
    }
    let fee = math::fee(taken.quote, m.taker_fee_bps).or_overflow()?;
    add(&mut flows.pay_quote, fee)?;
    add(&mut m.fees, fee)?;
    events.push(Event::Book(BookEvent::Taken {
        market: id,
        order: t.order,
        side: t.side,
        quantity: base_units(taken.lots, m.lot_size).or_overflow()?,
        quote: taken.quote,
        fee,
    }));
    Ok(())
}

struct Rest {
    order: u64,
    seq: u64,
    ticks: u64,
    lots: u64,
}

/// Puts the unfilled part of an order on its side, locking its funds; on a
/// full side it evicts the worst order if the new one beats its price.
fn rest_order(
    ctx: &TxContext,
    own: &mut Book,
    m: &Market,
    r: Rest,
    flows: &mut Flows,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let side = own.side;
    let owner = own.entry_for(&ctx.sender)?;
    if own.owner(owner)?.open as usize >= MAX_ORDERS_PER_OWNER {
        return Err(fail(BookError::OwnerOrderLimit {
            owner: ctx.sender,
            side,
            max: MAX_ORDERS_PER_OWNER as u32,
        }));
    }
    if own.orders.len() >= MAX_ORDERS_PER_SIDE {
        let last = own.orders.len() - 1;
        let worst = own.orders[last];
        let worst_price = price_quote(worst.price_ticks, m.tick_size).or_overflow()?;
        if !math::better(side, r.ticks, worst.price_ticks) {
            return Err(fail(BookError::BookFull {
                side,
                max: MAX_ORDERS_PER_SIDE as u32,
                price: price_quote(r.ticks, m.tick_size).or_overflow()?,
                worst: worst_price,
            }));
        }
        let refund = locked(m, side, &worst).or_overflow()?;
        own.take(last)?;
        own.credit_lock(worst.owner, refund)?;
        events.push(Event::Book(BookEvent::Cancelled {
            market: own.market,
            order: order_id(worst.seq, side),
            owner: own.owner(worst.owner)?.owner,
            side,
            price: worst_price,
            quantity: base_units(worst.remaining_lots, m.lot_size).or_overflow()?,
            refund,
            reason: CancelReason::Evicted,
        }));
    }
    let resting = Order {
        seq: r.seq,
        owner,
        price_ticks: r.ticks,
        remaining_lots: r.lots,
        original_lots: r.lots,
    };
    let lock = locked(m, side, &resting).or_overflow()?;
    flows.lock(side, lock)?;
    let at = own
        .orders
        .partition_point(|o| !math::better(side, r.ticks, o.price_ticks));
    own.orders.insert(at, resting);
    own.owner_mut(owner)?.open += 1;
    events.push(Event::Book(BookEvent::Rested {
        market: own.market,
        order: r.order,
        owner: ctx.sender,
        side,
        price: price_quote(r.ticks, m.tick_size).or_overflow()?,
        quantity: base_units(r.lots, m.lot_size).or_overflow()?,
        locked: lock,
    }));
    Ok(())
}

/// Cancels the sender's orders on `book` chosen by `pick` (by index), adding
/// the refunds to `flows`; returns how many.
fn cancel_where(
    ctx: &TxContext,
    m: &Market,
    book: &mut Book,
    flows: &mut Flows,
    events: &mut Vec<Event>,
    mut pick: impl FnMut(&Order) -> bool,
) -> Result<usize, ActionError> {
    let mut cancelled = 0;
    let mut i = 0;
    while i < book.orders.len() {
        let o = book.orders[i];
        if !pick(&o) {
            i += 1;
            continue;
        }
        let refund = locked(m, book.side, &o).or_overflow()?;
        book.take(i)?;
        flows.refund(book.side, refund)?;
        events.push(Event::Book(BookEvent::Cancelled {
            market: book.market,
            order: order_id(o.seq, book.side),
            owner: ctx.sender,
            side: book.side,
            price: price_quote(o.price_ticks, m.tick_size).or_overflow()?,
            quantity: base_units(o.remaining_lots, m.lot_size).or_overflow()?,
            refund,
            reason: CancelReason::User,
        }));
        cancelled += 1;
    }
    Ok(cancelled)
}

fn cancel(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    r: &MarketRef,
    order: u64,
) -> Result<(), ActionError> {
    let m = load_market(view, r)?;
    let side = Side::of_order(order);
    let seq = order >> 1;
    let mut book = Book::load(view, r.id, side)?;
    let unknown = || {
        fail(BookError::UnknownOrder {
            market: r.id,
            order,
        })
    };
    let found = book
        .orders
        .iter()
        .find(|o| o.seq == seq)
        .copied()
        .ok_or_else(unknown)?;
    let owner = book.owner(found.owner)?.owner;
    if owner != ctx.sender {
        return Err(fail(BookError::NotOrderOwner { order, owner }));
    }
    let mut flows = Flows::default();
    cancel_where(ctx, &m, &mut book, &mut flows, events, |o| o.seq == seq)?;
    settle_into(&mut [&mut book], &ctx.sender, &mut flows, r.id, events)?;
    flows.apply(view, &m, r.id, &ctx.sender, events)?;
    book.store(view)
}

fn cancel_all(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    r: &MarketRef,
) -> Result<(), ActionError> {
    let m = load_market(view, r)?;
    let mut bids = Book::load(view, r.id, Side::Buy)?;
    let mut asks = Book::load(view, r.id, Side::Sell)?;
    let mut flows = Flows::default();
    let mut cancelled = 0;
    for book in [&mut bids, &mut asks] {
        if let Some(ix) = book.owners.iter().position(|e| e.owner == ctx.sender) {
            let ix = ix as u16;
            cancelled += cancel_where(ctx, &m, book, &mut flows, events, |o| o.owner == ix)?;
        }
    }
    if cancelled == 0 {
        return Err(fail(BookError::NothingToCancel {
            market: r.id,
            owner: ctx.sender,
        }));
    }
    settle_into(
        &mut [&mut bids, &mut asks],
        &ctx.sender,
        &mut flows,
        r.id,
        events,
    )?;
    flows.apply(view, &m, r.id, &ctx.sender, events)?;
    bids.store(view)?;
    asks.store(view)
}

fn settle(
    view: &mut impl View,
    events: &mut Vec<Event>,
    r: &MarketRef,
    owner: &Address,
) -> Result<(), ActionError> {
    let m = load_market(view, r)?;
    let mut bids = Book::load(view, r.id, Side::Buy)?;
    let mut asks = Book::load(view, r.id, Side::Sell)?;
    let mut flows = Flows::default();
    let paid = settle_into(&mut [&mut bids, &mut asks], owner, &mut flows, r.id, events)?;
    if paid == (0, 0) {
        return Err(fail(BookError::NothingToSettle {
            market: r.id,
            owner: *owner,
        }));
    }
    flows.apply(view, &m, r.id, owner, events)?;
    bids.store(view)?;
    asks.store(view)
}

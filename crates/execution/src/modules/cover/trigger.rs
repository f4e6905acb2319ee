//! Parametric products at the end of each block: every product's trigger is
//! evaluated once, a firing reserves what each eligible cover is owed in the
//! pool's pending claims, and at most `batch` owed covers per product are
//! paid per block, in holding order, the rest in the following blocks.
//!
//! Reads need their keys before any state is known (the node prefetches a
//! block's keys in one batch), so products sit in [`MAX_PRODUCTS`] fixed
//! slots ([`product_keys`], always in the access set) and [`hook_keys`]
//! derives everything else the hook may touch from a product's value before
//! the block: its source, its pool, and the holders the next batch could pay
//! whether or not the trigger fires.

use super::{keys, math, state};
use crate::modules::kit::{ActionError, StateError, View, balance_key, fail, load, move_asset};
use crate::modules::kit::{OrOverflow, store};
use crate::modules::{dex, lend, oracle};
use lakh_state::StateKey;
use lakh_types::Event;
use lakh_types::modules::cover::parametric::{BPS, MAX_PAYOUT_LOG};
use lakh_types::modules::cover::{
    Cover, CoverEvent, Holding, LossSource, MAX_PRODUCTS, PayoutLog, PayoutRecord, PoolParams,
    PoolState, Product, ProductId, Trigger, capital_custody,
};

/// The product slots, read by every block.
pub fn product_keys() -> impl Iterator<Item = StateKey> {
    (0..MAX_PRODUCTS).map(keys::product)
}

/// Every key the hook may read or write for `product` (its value before
/// the block) at `height`. Covers bought during the block are never paid in
/// it (the cooldown is at least one block), so they need no key.
pub fn hook_keys(height: u64, product: &Product, visit: &mut impl FnMut(StateKey)) {
    if product.created_height >= height {
        return;
    }
    let p = &product.params;
    visit(keys::params(p.pool));
    visit(keys::state(p.pool));
    visit(balance_key(&capital_custody(p.pool), p.asset));
    source_keys(&p.trigger, visit);
    let cooldown = p.cooldown_blocks;
    // No firing: the run continues from its cursor.
    if let Some(cursor) = product.cursor {
        let owed = product.holdings.iter().skip(cursor as usize);
        batch_keys(owed.filter(|h| h.unpaid()), product, visit);
    }
    // Firing: the run restarts from the first holding.
    let fired = product.holdings.iter();
    let owed = fired.filter(|h| h.unpaid() || h.eligible(height, cooldown));
    batch_keys(owed, product, visit);
}

fn source_keys(trigger: &Trigger, visit: &mut impl FnMut(StateKey)) {
    match trigger {
        Trigger::Price { asset, .. } => visit(oracle::feed_key(*asset)),
        Trigger::BadDebt { market } => {
            visit(lend::bad_debt_key(*market));
            visit(lend::market_key(*market));
        }
        Trigger::PoolLoss { source, .. } => match source {
            LossSource::DexReserve { asset, other } => {
                if let Some(pair) = dex::state::Pair::new(*asset, *other) {
                    visit(pair.key());
                }
            }
            LossSource::LendCash { market } => visit(lend::market_key(*market)),
        },
    }
}

fn batch_keys<'a>(
    owed: impl Iterator<Item = &'a Holding>,
    product: &Product,
    visit: &mut impl FnMut(StateKey),
) {
    for h in owed.take(product.params.batch as usize) {
        visit(keys::cover(h.cover));
        visit(balance_key(&h.holder, product.params.asset));
        visit(keys::payout_log(&h.holder));
    }
}

/// Runs every product created before `height`. A product whose ledger
/// breaks an invariant is left as it was (a bug, asserted in debug builds)
/// rather than stopping the chain.
pub(crate) fn end_block(
    view: &mut impl View,
    height: u64,
    events: &mut Vec<Event>,
) -> Result<(), StateError> {
    for id in 0..MAX_PRODUCTS {
        let checkpoint = view.checkpoint();
        let mark = events.len();
        match run_product(view, id, height, events) {
            Ok(()) => {}
            Err(ActionError::State(e)) => return Err(e),
            Err(ActionError::Failed(reason)) => {
                debug_assert!(false, "cover product {id} at {height}: {reason:?}");
                view.rollback(checkpoint);
                events.truncate(mark);
            }
        }
        if let Some(fault) = view.take_fault() {
            return Err(fault);
        }
        view.clear_journal();
    }
    Ok(())
}

fn run_product(
    view: &mut impl View,
    id: ProductId,
    height: u64,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let key = keys::product(id);
    let Some(mut product) = load::<Product>(view, &key)? else {
        return Ok(());
    };
    if product.created_height >= height {
        return Ok(());
    }
    let pool = product.params.pool;
    let params = load::<PoolParams>(view, &keys::params(pool))?
        .ok_or_else(|| fail(state::inconsistent(pool, "product's pool is missing")))?;
    let mut ledger = load::<PoolState>(view, &keys::state(pool))?
        .ok_or_else(|| fail(state::inconsistent(pool, "pool has no ledger")))?;
    let released = state::roll(&mut ledger, pool, params.epoch_blocks(), height).map_err(fail)?;
    if released != state::Released::default() {
        events.push(Event::Cover(CoverEvent::CapacityReleased {
            pool,
            cover: released.cover,
            premium: released.premium,
        }));
    }
    let mut run = Run {
        id,
        height,
        product: &mut product,
        ledger: &mut ledger,
        epoch_blocks: params.epoch_blocks(),
        events,
    };
    if let Some(loss_bps) = run.observe(view)? {
        run.fire(loss_bps)?;
    }
    run.pay_batch(view)?;
    if product.cursor.is_none() {
        // Nothing is owed: settled and expired covers leave.
        product
            .holdings
            .as_mut_vec_within_bound()
            .retain(|h| !h.paid && h.end_height > height);
    }
    store(view, &keys::state(pool), &ledger)?;
    store(view, &key, &product)
}

struct Run<'a> {
    id: ProductId,
    height: u64,
    product: &'a mut Product,
    ledger: &'a mut PoolState,
    epoch_blocks: u64,
    events: &'a mut Vec<Event>,
}

impl Run<'_> {
    fn emit(&mut self, event: CoverEvent) {
        self.events.push(Event::Cover(event));
    }

    /// Updates the trigger's memory with this block; `Some(loss_bps)` when
    /// an event fires now (10000 unless the product pays proportionally).
    fn observe(&mut self, view: &impl View) -> Result<Option<u32>, ActionError> {
        let first = !self.product.watch.primed;
        self.product.watch.primed = true;
        let loss = match self.product.params.trigger.clone() {
            Trigger::Price {
                asset,
                threshold,
                above,
                blocks,
                reference,
            } => {
                let price = match oracle::price(view, asset, self.height) {
                    Ok(p) => Some(p.price),
                    // Missing or stale prices never count.
                    Err(ActionError::Failed(_)) => None,
                    Err(e) => return Err(e),
                };
                let hit = price.filter(|&p| if above { p > threshold } else { p < threshold });
                let w = &mut self.product.watch;
                w.streak_blocks = hit.map_or(0, |_| w.streak_blocks.saturating_add(1));
                self.edge(hit.is_some() && self.product.watch.streak_blocks >= blocks)
                    .then(|| hit.map(|p| math::price_loss_bps(p, reference, above)))
                    .flatten()
            }
            Trigger::BadDebt { market } => {
                let total = load::<lend::BadDebtTotal>(view, &lend::bad_debt_key(market))?
                    .unwrap_or_default()
                    .written_off;
                let new = total.saturating_sub(self.product.watch.bad_debt_seen);
                self.product.watch.bad_debt_seen = total;
                if first || new == 0 {
                    None
                } else {
                    let size = load::<lend::Market>(view, &lend::market_key(market))?
                        .map_or(0, |m| m.cash.saturating_add(m.borrows));
                    Some(math::fraction_bps(new, size.saturating_add(new)))
                }
            }
            Trigger::PoolLoss {
                source,
                loss_bps,
                window_blocks,
            } => {
                let value = source_value(view, &source)?;
                let samples = &mut self.product.watch.samples;
                while !samples.is_empty() && samples.len() >= window_blocks as usize {
                    samples.as_mut_vec_within_bound().remove(0);
                }
                // len < window_blocks <= MAX_SAMPLES: room for one more.
                let _ = samples.try_push(value);
                let peak = samples.iter().copied().max().unwrap_or(value);
                let fall = math::fall_bps(peak, value);
                self.edge(fall > loss_bps).then_some(fall)
            }
        };
        Ok(loss.map(|l| {
            if self.product.params.proportional {
                l
            } else {
                BPS
            }
        }))
    }

    /// One event per stretch of the condition holding: true only on the
    /// block it starts to hold (after the price trigger's run of blocks).
    fn edge(&mut self, holds: bool) -> bool {
        let w = &mut self.product.watch;
        let fires = holds && !w.fired;
        w.fired = holds;
        fires
    }

    /// Reserves what each eligible cover is owed and restarts the payouts
    /// from the first holding.
    fn fire(&mut self, loss_bps: u32) -> Result<(), ActionError> {
        let (height, pool) = (self.height, self.product.params.pool);
        let cooldown = self.product.params.cooldown_blocks;
        let (mut covers, mut owed_total) = (0u32, 0u128);
        let mut holdings = self.product.holdings.as_mut_vec_within_bound();
        let eligible = holdings.iter_mut().filter(|h| h.eligible(height, cooldown));
        for h in eligible {
            let owed = math::parametric_payout(h.amount, loss_bps).or_overflow()?;
            // Eligible: height < end <= release height, so its bucket is live.
            state::reserve_claim(self.ledger, pool, h.release_epoch, owed).map_err(fail)?;
            h.event_height = Some(height);
            h.owed = owed;
            covers += 1;
            owed_total = owed_total.checked_add(owed).or_overflow()?;
        }
        let w = &mut self.product.watch;
        w.events = w.events.saturating_add(1);
        w.last_event_height = height;
        if covers > 0 {
            self.product.cursor = Some(0);
        }
        self.emit(CoverEvent::TriggerFired {
            product: self.id,
            loss_bps,
            covers,
            owed: owed_total,
        });
        Ok(())
    }

    /// Pays up to `batch` owed covers from the cursor, in holding order.
    fn pay_batch(&mut self, view: &mut impl View) -> Result<(), ActionError> {
        let Some(mut next) = self.product.cursor.map(|c| c as usize) else {
            return Ok(());
        };
        let mut paid = 0;
        while next < self.product.holdings.len() && paid < self.product.params.batch {
            if self.product.holdings[next].unpaid() {
                self.pay(view, next)?;
                paid += 1;
            }
            next += 1;
        }
        let more = self.product.holdings.iter().skip(next).any(Holding::unpaid);
        // next <= MAX_HOLDINGS: fits in u32.
        self.product.cursor = more.then_some(next as u32);
        Ok(())
    }

    fn pay(&mut self, view: &mut impl View, index: usize) -> Result<(), ActionError> {
        let h = self.product.holdings[index].clone();
        let (pool, asset) = (self.product.params.pool, self.product.params.asset);
        let event_height = h.event_height.unwrap_or(self.height);
        let live = state::release_height(h.release_epoch, self.epoch_blocks)
            .is_none_or(|at| at > self.height);
        // The reservation keeps capital above what is owed; the cap never binds.
        let amount = h.owed.min(self.ledger.capital);
        debug_assert_eq!(amount, h.owed, "pool {pool} short of a reserved payout");
        state::close_pending(self.ledger, pool, h.release_epoch, h.owed, amount, live)
            .map_err(fail)?;
        move_asset(
            view,
            asset,
            &capital_custody(pool),
            &h.holder,
            amount,
            self.events,
        )?;
        self.ledger.capital -= amount;
        self.ledger.paid_out = self.ledger.paid_out.checked_add(amount).or_overflow()?;
        let cover_key = keys::cover(h.cover);
        let mut cover = load::<Cover>(view, &cover_key)?
            .ok_or_else(|| fail(state::inconsistent(pool, "parametric cover is missing")))?;
        cover.paid = cover.paid.checked_add(amount).or_overflow()?;
        store(view, &cover_key, &cover)?;
        let record = PayoutRecord {
            product: self.id,
            cover: h.cover,
            event_height,
            height: self.height,
            amount,
            asset,
        };
        log_payout(view, &h.holder, record)?;
        if let Some(paid) = self
            .product
            .holdings
            .as_mut_vec_within_bound()
            .get_mut(index)
        {
            paid.paid = true;
        }
        self.product.paid_out = self.product.paid_out.checked_add(amount).or_overflow()?;
        self.emit(CoverEvent::ParametricPaid {
            product: self.id,
            cover: h.cover,
            holder: h.holder,
            event_height,
            amount,
        });
        Ok(())
    }
}

/// The value a pool-loss trigger watches (0 while its pool or market does
/// not exist).
fn source_value(view: &impl View, source: &LossSource) -> Result<u128, ActionError> {
    Ok(match source {
        LossSource::DexReserve { asset, other } => {
            let Some(pair) = dex::state::Pair::new(*asset, *other) else {
                return Ok(0);
            };
            load::<dex::state::Pool>(view, &pair.key())?.map_or(0, |p| {
                if pair.a == *asset {
                    p.reserve_a
                } else {
                    p.reserve_b
                }
            })
        }
        LossSource::LendCash { market } => {
            load::<lend::Market>(view, &lend::market_key(*market))?.map_or(0, |m| m.cash)
        }
    })
}

/// Appends to the holder's payout log, dropping the oldest when full.
fn log_payout(
    view: &mut impl View,
    holder: &lakh_types::Address,
    record: PayoutRecord,
) -> Result<(), ActionError> {
    let key = keys::payout_log(holder);
    let mut log = load::<PayoutLog>(view, &key)?.unwrap_or_default();
    if log.records.len() >= MAX_PAYOUT_LOG {
        log.records.as_mut_vec_within_bound().remove(0);
    }
    // Below MAX_PAYOUT_LOG now: the push fits.
    let _ = log.records.try_push(record);
    store(view, &key, &log)
}

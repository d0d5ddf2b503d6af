//! The memory pool behind `--memory-limit`: which operator may hold how much.
//!
//! DataFusion's greedy pool serves whoever asks first. This job sorts all events in one
//! partition per core, and under the greedy pool the first sort took nearly all of it while
//! the repartitioning in front of the sorts held the rest as batches waiting to be sorted;
//! the second sort could then not get memory for its first batch, and the run failed where
//! it could have spilled. DataFusion's fair pool shares by the number of operators that can
//! spill, counted from the start of a query, and every repartitioning counts once per
//! output partition: each sort got a sliver, and an aggregate that holds one large hash
//! table could not have it.
//!
//! Here:
//! - the operators that spill (sorts and their merges, aggregates) share what the others
//!   leave evenly among those holding memory at the moment, so an operator alone has it
//!   all, and one that starts later is given room as the others spill down to their share;
//!   each may always hold one batch's worth, as a sort must hold the batch it is given
//!   before it can spill anything;
//! - the repartitionings together may hold an eighth of the pool: past it they write the
//!   batches waiting for a slow reader to disk, instead of starving the sort that reads
//!   them;
//! - what cannot spill (a join's hash table, a Parquet writer's row group) is refused only
//!   when it alone would fill the pool: the others give way at their next request.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// The part of the pool all repartitionings' buffers together may hold.
const BUFFER_SHARE: usize = 8;

/// What a spilling operator may always hold, pool or not (a batch of wide events is a few
/// megabytes).
const SPILLER_FLOOR: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct SharedPool {
    size: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// What each spilling operator holds, by consumer: one operator's memory may be split
    /// over several reservations.
    spillers: HashMap<usize, usize>,
    /// Registered repartitionings (one per output partition).
    buffers: usize,
    spillable: usize,
    buffered: usize,
    unspillable: usize,
}

impl State {
    fn used(&self) -> usize {
        self.spillable + self.buffered + self.unspillable
    }

    fn add(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        match kind(consumer) {
            Kind::Spiller => {
                self.spillable += bytes;
                *self.spillers.entry(consumer.id()).or_default() += bytes;
            }
            Kind::Buffer => self.buffered += bytes,
            Kind::Fixed => self.unspillable += bytes,
        }
    }

    fn remove(&mut self, consumer: &MemoryConsumer, bytes: usize) {
        match kind(consumer) {
            Kind::Spiller => {
                self.spillable = self.spillable.saturating_sub(bytes);
                if let Some(held) = self.spillers.get_mut(&consumer.id()) {
                    *held = held.saturating_sub(bytes);
                    if *held == 0 {
                        self.spillers.remove(&consumer.id());
                    }
                }
            }
            Kind::Buffer => self.buffered = self.buffered.saturating_sub(bytes),
            Kind::Fixed => self.unspillable = self.unspillable.saturating_sub(bytes),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Spiller,
    Buffer,
    Fixed,
}

fn kind(consumer: &MemoryConsumer) -> Kind {
    let name = consumer.name();
    if name.starts_with("RepartitionExec") {
        Kind::Buffer
    } else if consumer.can_spill() || name.starts_with("ExternalSorterMerge") {
        // a sort's merge cannot spill, but merges fewer spill files at a time when refused
        Kind::Spiller
    } else {
        Kind::Fixed
    }
}

impl SharedPool {
    pub fn new(size: usize) -> Self {
        SharedPool {
            size,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // each update is one step, so the counts are whole even after a holder panicked
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MemoryPool for SharedPool {
    fn name(&self) -> &str {
        "shared"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if kind(consumer) == Kind::Buffer {
            self.state().buffers += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        let mut state = self.state();
        match kind(consumer) {
            Kind::Buffer => state.buffers = state.buffers.saturating_sub(1),
            Kind::Spiller => {
                if let Some(held) = state.spillers.remove(&consumer.id()) {
                    state.spillable = state.spillable.saturating_sub(held);
                }
            }
            Kind::Fixed => {}
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.state().add(reservation.consumer(), additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.state().remove(reservation.consumer(), shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = self.state();
        let consumer = reservation.consumer();
        let free = self.size.saturating_sub(state.used());
        let (held, allowed, refused) = match kind(consumer) {
            Kind::Fixed => {
                let held = reservation.size();
                let allowed = self.size.saturating_sub(state.unspillable) + held;
                (held, allowed, false)
            }
            Kind::Buffer => {
                let allowed = (self.size / BUFFER_SHARE) / state.buffers.max(1);
                (reservation.size(), allowed, additional > free)
            }
            Kind::Spiller => {
                let held = state.spillers.get(&consumer.id()).copied().unwrap_or(0);
                let holders = state.spillers.len() + usize::from(held == 0);
                let left = self.size.saturating_sub(state.unspillable + state.buffered);
                let allowed = (left / holders).max(SPILLER_FLOOR);
                let refused = additional > free && held + additional > SPILLER_FLOOR;
                (held, allowed, refused)
            }
        };
        if refused || held + additional > allowed {
            // the pool's description takes the lock again
            drop(state);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "Failed to allocate additional {additional} bytes for {} with {held} bytes \
                 already allocated - its share is {allowed} bytes of the pool: {self}",
                consumer.name(),
            )));
        }
        state.add(consumer, additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.state().used()
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

impl fmt::Display for SharedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        write!(
            f,
            "shared(used: {} bytes, pool_size: {} bytes; sorts and aggregates {} bytes in {}, \
             repartition buffers {} bytes in {}, unspillable {} bytes)",
            state.used(),
            self.size,
            state.spillable,
            state.spillers.len(),
            state.buffered,
            state.buffers,
            state.unspillable
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const MB: usize = 1024 * 1024;

    fn consumer(pool: &Arc<dyn MemoryPool>, name: &str, can_spill: bool) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(can_spill)
            .register(pool)
    }

    #[test]
    fn sorts_share_what_they_hold_and_a_late_one_is_not_starved() {
        let pool: Arc<dyn MemoryPool> = Arc::new(SharedPool::new(100 * MB));
        let first = consumer(&pool, "ExternalSorter[0]", true);
        let second = consumer(&pool, "ExternalSorter[1]", true);
        // alone, a sort may have the whole pool
        first.try_grow(90 * MB).unwrap();
        // the other still gets its first batch, past the pool if need be
        second.try_grow(12 * MB).unwrap();
        // and now the first must spill down to half
        assert!(first.try_grow(MB).is_err());
        first.shrink(50 * MB);
        first.try_grow(5 * MB).unwrap();
        assert!(second.try_grow(45 * MB).is_err());
        assert_eq!(pool.reserved(), 57 * MB);
    }

    #[test]
    fn repartition_buffers_are_held_to_an_eighth_of_the_pool() {
        let pool: Arc<dyn MemoryPool> = Arc::new(SharedPool::new(160 * MB));
        let buffers: Vec<_> = (0..2)
            .map(|i| consumer(&pool, &format!("RepartitionExec[{i}]"), true))
            .collect();
        buffers[0].try_grow(10 * MB).unwrap();
        assert!(buffers[0].try_grow(MB).is_err());
        buffers[1].try_grow(10 * MB).unwrap();
        assert_eq!(pool.reserved(), 20 * MB);
    }

    #[test]
    fn what_cannot_spill_is_refused_only_past_the_pool_by_itself() {
        let pool: Arc<dyn MemoryPool> = Arc::new(SharedPool::new(100 * MB));
        let sort = consumer(&pool, "ExternalSorter[0]", true);
        let join = consumer(&pool, "HashJoinInput", false);
        sort.try_grow(80 * MB).unwrap();
        join.try_grow(60 * MB).unwrap();
        // the sort gives way at its next request
        assert!(sort.try_grow(MB).is_err());
        assert!(join.try_grow(41 * MB).is_err());
        join.try_grow(40 * MB).unwrap();
    }
}

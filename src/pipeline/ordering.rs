//! The reorder buffer: finished items (sessions, connection records) go out in connection-id
//! order (first packet) as soon as every earlier connection has finished, instead of all
//! being held to the end of the capture.
//!
//! It is bounded (`Limits::max_reorder`): one connection open from the start of a capture
//! to its end (an IMAP IDLE session) would otherwise hold back every item after it. Past the
//! bound, the connections still open ahead of the waiting items are given up on: the items
//! go out, and those connections' items are written when they finish, later than their
//! number says; those written after a later one are counted
//! (`RunSummary::listed_out_of_order`).
//!
//! ```text
//!  settle(id) ──id given up on?──yes──▶ write now
//!      │ no
//!      ▼
//!  waiting ──ids from `next` on, in a row──▶ write
//!      │ more than max_reorder waiting
//!      ▼
//!  ids before the first waiting one: given up on; `next` = first waiting
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io;

/// Hands finished items out in connection-id order, holding at most `max` of them.
pub(super) struct Ordered<'b, T> {
    /// Finished while an earlier connection is still open; `None` for those not shown.
    waiting: BTreeMap<u64, Option<T>>,
    /// The next connection id to hand out.
    next: u64,
    /// Items held at most in `waiting`.
    max: usize,
    /// Connections still open that the buffer stopped waiting for (all below `next`): at
    /// most the open connections, each a number.
    late: BTreeSet<u64>,
    /// Writes an item; `Ok(false)`: the sink counted it but did not list it.
    sink: &'b mut dyn FnMut(T) -> io::Result<bool>,
    /// Items handed to the sink.
    pub(super) listed: u64,
    /// Items handed to the sink after items of later connections.
    pub(super) out_of_order: u64,
    /// The highest connection id handed to the sink.
    highest: u64,
    /// The sink failed: nothing more is handed to it.
    pub(super) error: Option<io::Error>,
}

impl<'b, T> Ordered<'b, T> {
    /// Holds at most `max` finished items waiting for earlier connections.
    pub(super) fn new(sink: &'b mut dyn FnMut(T) -> io::Result<bool>, max: usize) -> Self {
        Ordered {
            waiting: BTreeMap::new(),
            next: 1,
            max,
            late: BTreeSet::new(),
            sink,
            listed: 0,
            out_of_order: 0,
            highest: 0,
            error: None,
        }
    }

    /// Connection `id` finished: `item` is what to show of it (`None`: nothing).
    pub(super) fn settle(&mut self, id: u64, item: Option<T>) {
        if self.late.remove(&id) {
            self.write(id, item);
            return;
        }
        self.waiting.insert(id, item);
        self.release();
        while self.waiting.len() > self.max {
            let Some((&first, _)) = self.waiting.first_key_value() else {
                break;
            };
            // Every id below `first` not yet handed out is a connection still open.
            self.late.extend(self.next..first);
            self.next = first;
            self.release();
        }
    }

    /// Whether at least half the items it holds at most are waiting: past `max` it gives
    /// up on the connections ahead of them.
    pub(super) fn half_full(&self) -> bool {
        self.waiting.len() * 2 >= self.max
    }

    /// Writes the waiting items that are next in order.
    fn release(&mut self) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let (id, item) = entry.remove_entry();
            self.next += 1;
            self.write(id, item);
        }
    }

    fn write(&mut self, id: u64, item: Option<T>) {
        if let Some(item) = item
            && self.error.is_none()
        {
            match (self.sink)(item) {
                Ok(false) => {}
                Ok(true) => {
                    self.listed += 1;
                    self.out_of_order += u64::from(id < self.highest);
                    self.highest = self.highest.max(id);
                }
                Err(e) => self.error = Some(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settles `order` (connection ids as they finish; odd ids are hidden) with `max`
    /// waiting at most; returns what was written, how many came late, and the most that
    /// ever waited.
    fn run(order: &[u64], max: usize) -> (Vec<u64>, u64, usize) {
        let mut written = Vec::new();
        let mut sink = |id: u64| {
            written.push(id);
            Ok(true)
        };
        let mut o = Ordered::new(&mut sink, max);
        let mut peak = 0;
        for &id in order {
            o.settle(id, (id % 7 != 0).then_some(id));
            peak = peak.max(o.waiting.len());
        }
        let late = o.out_of_order;
        assert_eq!(o.listed as usize, written.len());
        (written, late, peak)
    }

    #[test]
    fn within_the_bound_everything_comes_in_order() {
        let (written, late, _) = run(&[3, 2, 5, 1, 4, 6], 10);
        assert_eq!(written, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(late, 0);
    }

    /// Connection 1 stays open while 2..=100 finish: with 4 waiting at most, they go out as
    /// they finish instead of all waiting for 1, which comes last and is counted.
    #[test]
    fn past_the_bound_a_long_connection_stops_holding_the_rest() {
        let order: Vec<u64> = (2..=100).chain([1]).collect();
        let (written, late, peak) = run(&order, 4);
        let shown: Vec<u64> = order.iter().copied().filter(|id| id % 7 != 0).collect();
        assert_eq!(written, shown, "every shown item, each once");
        assert_eq!(late, 1, "only connection 1 came after later ones");
        assert!(peak <= 4, "{peak} waited");
        // Unbounded (as before): everything waits for connection 1.
        let (written, late, peak) = run(&order, usize::MAX);
        assert_eq!(
            written,
            (1..=100).filter(|id| id % 7 != 0).collect::<Vec<_>>()
        );
        assert_eq!((late, peak), (0, 99));
    }

    /// Several long connections and a bound of 0 (write as they finish): every item once,
    /// the given-up ones counted, hidden ones never written or counted.
    #[test]
    fn a_bound_of_zero_writes_items_as_they_finish() {
        let order = [2, 5, 4, 1, 7, 6, 3, 8, 14, 9];
        let (written, late, peak) = run(&order, 0);
        assert_eq!(written, vec![2, 5, 4, 1, 6, 3, 8, 9]);
        // 4, 1 and 3 came after 5; 6 and 9 were given up on too, but no later item was
        // written before them (7 and 14 are hidden).
        assert_eq!(late, 3);
        assert_eq!(peak, 0);
    }
}

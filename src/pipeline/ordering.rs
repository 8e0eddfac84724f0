//! The reorder buffer: finished items (sessions, connection records) go out in connection-id
//! order (first packet) as soon as every earlier connection has finished, instead of all
//! being held to the end of the capture.

use std::collections::BTreeMap;
use std::io;

/// Hands finished items out in connection-id order.
pub(super) struct Ordered<'b, T> {
    /// Finished while an earlier connection is still open; `None` for those not shown.
    waiting: BTreeMap<u64, Option<T>>,
    /// The next connection id to hand out.
    next: u64,
    sink: &'b mut dyn FnMut(T) -> io::Result<()>,
    /// Items handed to the sink.
    pub(super) listed: u64,
    /// The sink failed: nothing more is handed to it.
    pub(super) error: Option<io::Error>,
}

impl<'b, T> Ordered<'b, T> {
    pub(super) fn new(sink: &'b mut dyn FnMut(T) -> io::Result<()>) -> Ordered<'b, T> {
        Ordered {
            waiting: BTreeMap::new(),
            next: 1,
            sink,
            listed: 0,
            error: None,
        }
    }

    /// Connection `id` finished: `item` is what to show of it (`None`: nothing).
    pub(super) fn settle(&mut self, id: u64, item: Option<T>) {
        self.waiting.insert(id, item);
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let item = entry.remove();
            self.next += 1;
            if let Some(item) = item
                && self.error.is_none()
            {
                match (self.sink)(item) {
                    Ok(()) => self.listed += 1,
                    Err(e) => self.error = Some(e),
                }
            }
        }
    }
}

//! The connections that have not yet sent a whole request head, oldest
//! first, so that at the connection cap the oldest of them can be closed to
//! make room.
//!
//! Without this, a client that opens `max_connections` sockets and says
//! nothing holds every slot until the header timeout closes them, and for
//! that long every other client, a readiness probe included, waits in the
//! listen backlog. A connection that has sent nothing has nothing to lose
//! by being closed; one that has begun a request is never chosen. Nor is
//! one accepted a moment ago: at a busy accept loop a connection can be
//! accepted before its task has read the head its client already sent.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

/// The silent connections, each with the means to close it.
#[derive(Debug, Default)]
pub struct SilentConnections {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// By id, which grows with accept order: the first is the oldest.
    by_age: BTreeMap<u64, (Instant, oneshot::Sender<()>)>,
}

impl SilentConnections {
    /// Registers a connection accepted at `accepted_at`: its id, and what
    /// resolves when it is chosen to be closed.
    pub fn add(&self, accepted_at: Instant) -> (u64, oneshot::Receiver<()>) {
        let (close, closed) = oneshot::channel();
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.by_age.insert(id, (accepted_at, close));
        (id, closed)
    }

    /// The connection has sent a request head (or ended): it is no longer
    /// a candidate.
    pub fn spoke(&self, id: u64) {
        self.lock().by_age.remove(&id);
    }

    /// Tells the oldest silent connection accepted no later than
    /// `accepted_by` to close; `false` if there is none.
    pub fn close_oldest(&self, accepted_by: Instant) -> bool {
        let mut inner = self.lock();
        while let Some(entry) = inner.by_age.first_entry() {
            if entry.get().0 > accepted_by {
                return false;
            }
            let (_, close) = entry.remove();
            // A connection whose task has already ended cannot be told;
            // the next one is asked instead.
            if close.send(()).is_ok() {
                return true;
            }
        }
        false
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_age.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_oldest_silent_connection_is_closed_first() {
        let silent = SilentConnections::default();
        let now = Instant::now();
        let (_, mut first) = silent.add(now);
        let (_, mut second) = silent.add(now);
        assert!(silent.close_oldest(now));
        assert!(first.try_recv().is_ok());
        assert!(second.try_recv().is_err());
        assert!(silent.close_oldest(now));
        assert!(second.try_recv().is_ok());
        assert!(!silent.close_oldest(now));
    }

    #[test]
    fn a_connection_that_spoke_is_never_closed() {
        let silent = SilentConnections::default();
        let now = Instant::now();
        let (spoke, mut talking) = silent.add(now);
        let (_, mut quiet) = silent.add(now);
        silent.spoke(spoke);
        assert_eq!(silent.len(), 1);
        assert!(silent.close_oldest(now));
        assert!(talking.try_recv().is_err());
        assert!(quiet.try_recv().is_ok());
        assert!(!silent.close_oldest(now));
    }

    #[test]
    fn a_connection_that_already_ended_is_skipped() {
        let silent = SilentConnections::default();
        let now = Instant::now();
        let (_, gone) = silent.add(now);
        let (_, mut waiting) = silent.add(now);
        drop(gone);
        assert!(silent.close_oldest(now));
        assert!(waiting.try_recv().is_ok());
    }

    #[test]
    fn a_connection_accepted_after_the_cutoff_is_not_closed() {
        let silent = SilentConnections::default();
        let earlier = Instant::now();
        let later = earlier + Duration::from_secs(1);
        let (_, mut young) = silent.add(later);
        assert!(!silent.close_oldest(earlier));
        assert!(young.try_recv().is_err());
        assert!(silent.close_oldest(later));
        assert!(young.try_recv().is_ok());
    }
}

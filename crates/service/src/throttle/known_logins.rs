//! The (client address, account) pairs that logged in or signed up
//! recently: the stand-in for a device cookie (OWASP, "Slow down online
//! guessing attacks with device cookies"), keyed by address because
//! Bulkhead's clients carry no cookie.
//!
//! A login from an address that failed too often is refused before its
//! password is checked, unless its account succeeded from that same address
//! within [`REMEMBER_FOR`]: the people who usually log in from an office NAT
//! keep logging in while someone there guesses at other accounts. A known
//! pair's attempts stay held by the account's own strict limit.
//!
//! The memory is per server process and bounded: at most [`CAPACITY`]
//! pairs, each a digest of the pair (no email address is kept), expired ones
//! dropped first and then the least recently used. Losing a pair costs its
//! owner no more than the address's few-seconds delay on the next login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulkhead_domain::Clock;
use time::{Duration, OffsetDateTime};

/// How long a success vouches for its pair: about as long as a person
/// stays away from a device they use.
pub const REMEMBER_FOR: Duration = Duration::days(30);
/// Pairs held at most; about 60 bytes each, so a few megabytes.
pub const CAPACITY: usize = 100_000;

type PairDigest = [u8; 32];

#[derive(Debug)]
pub struct KnownLogins {
    clock: Arc<dyn Clock>,
    capacity: usize,
    last_success: Mutex<HashMap<PairDigest, OffsetDateTime>>,
}

impl KnownLogins {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(clock, CAPACITY)
    }

    /// With a capacity of its own (at least one), for tests of the bound.
    pub fn with_capacity(clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            clock,
            capacity: capacity.max(1),
            last_success: Mutex::new(HashMap::new()),
        }
    }

    /// `account` (a normalised email) logged in or signed up from `address`.
    pub fn remember(&self, address: &str, account: &str) {
        let now = self.clock.now();
        let digest = pair_digest(address, account);
        let mut pairs = self.last_success.lock().unwrap_or_else(|p| p.into_inner());
        if !pairs.contains_key(&digest) && pairs.len() >= self.capacity {
            make_room(&mut pairs, self.capacity, now);
        }
        pairs.insert(digest, now);
    }

    /// Whether `account` succeeded from `address` within [`REMEMBER_FOR`].
    pub fn is_known(&self, address: &str, account: &str) -> bool {
        let now = self.clock.now();
        let pairs = self.last_success.lock().unwrap_or_else(|p| p.into_inner());
        pairs
            .get(&pair_digest(address, account))
            .is_some_and(|at| now - *at < REMEMBER_FOR)
    }

    pub fn len(&self) -> usize {
        self.last_success
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops expired pairs; if that frees nothing, the least recently used
/// tenth, so that a full memory is not sorted again at every insert.
fn make_room(
    pairs: &mut HashMap<PairDigest, OffsetDateTime>,
    capacity: usize,
    now: OffsetDateTime,
) {
    pairs.retain(|_, at| now - *at < REMEMBER_FOR);
    if pairs.len() < capacity {
        return;
    }
    let mut by_age: Vec<(OffsetDateTime, PairDigest)> =
        pairs.iter().map(|(digest, at)| (*at, *digest)).collect();
    let n_drop = (capacity / 10).clamp(1, by_age.len());
    by_age.select_nth_unstable(n_drop - 1);
    for (_, digest) in &by_age[..n_drop] {
        pairs.remove(digest);
    }
}

/// One digest per pair; the length prefix keeps ("a", "bc") and ("ab", "c")
/// apart.
fn pair_digest(address: &str, account: &str) -> PairDigest {
    crate::secrets::sha256(&format!("{}:{address}{account}", address.len()))
}

#[cfg(test)]
mod tests;

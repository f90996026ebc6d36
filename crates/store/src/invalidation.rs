//! Delivering [`Notice`]s to listeners, and the text form of
//! [`Invalidation`]s for carrying them between processes (PostgreSQL NOTIFY
//! payloads).

use std::sync::RwLock;

use bulkhead_domain::id::Id;

use crate::model::{Invalidation, Notice};
use crate::store::NoticeListener;

/// The listeners registered with one store.
#[derive(Default)]
pub struct Listeners {
    listeners: RwLock<Vec<NoticeListener>>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.listeners.read().map_or(0, |l| l.len());
        f.debug_struct("Listeners")
            .field("n_listeners", &n)
            .finish()
    }
}

impl Listeners {
    pub fn add(&self, listener: NoticeListener) {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    /// Hands a committed invalidation to every listener.
    pub fn deliver(&self, invalidation: Invalidation) {
        self.tell(Notice::Invalidated(invalidation));
    }

    pub fn tell(&self, notice: Notice) {
        for listener in self
            .listeners
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            listener(notice);
        }
    }
}

impl Invalidation {
    /// A compact text form: `kind:uuid[:uuid]`.
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(id) => format!("session:{id}"),
            Invalidation::User(id) => format!("user:{id}"),
            Invalidation::Tenant(id) => format!("tenant:{id}"),
            Invalidation::Membership(tenant, user) => format!("membership:{tenant}:{user}"),
            Invalidation::ApiKey(tenant, key) => format!("api_key:{tenant}:{key}"),
            Invalidation::RecordEvents(tenant) => format!("record_events:{tenant}"),
            Invalidation::Collections(tenant) => format!("collections:{tenant}"),
            Invalidation::Plans => "plans".into(),
            Invalidation::Everything => "everything".into(),
        }
    }

    /// Parses [`Invalidation::encode`]'s output. Anything unreadable means
    /// "everything", the safe answer for a cache.
    pub fn decode(text: &str) -> Self {
        fn id<K>(text: Option<&str>) -> Option<Id<K>> {
            text.and_then(|t| uuid::Uuid::try_parse(t).ok())
                .map(Id::from_uuid)
        }
        let mut parts = text.split(':');
        let kind = parts.next();
        let (first, second) = (parts.next(), parts.next());
        let parsed = match kind {
            Some("session") => id(first).map(Invalidation::Session),
            Some("user") => id(first).map(Invalidation::User),
            Some("tenant") => id(first).map(Invalidation::Tenant),
            Some("membership") => id(first)
                .zip(id(second))
                .map(|(t, u)| Invalidation::Membership(t, u)),
            Some("api_key") => id(first)
                .zip(id(second))
                .map(|(t, k)| Invalidation::ApiKey(t, k)),
            Some("record_events") => id(first).map(Invalidation::RecordEvents),
            Some("collections") => id(first).map(Invalidation::Collections),
            Some("plans") => Some(Invalidation::Plans),
            _ => None,
        };
        parsed.unwrap_or(Invalidation::Everything)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_domain::{ApiKeyId, SessionId, TenantId, UserId};

    #[test]
    fn invalidations_round_trip_through_text() {
        let tenant = TenantId::new();
        for invalidation in [
            Invalidation::Session(SessionId::new()),
            Invalidation::User(UserId::new()),
            Invalidation::Tenant(tenant),
            Invalidation::Membership(tenant, UserId::new()),
            Invalidation::ApiKey(tenant, ApiKeyId::new()),
            Invalidation::RecordEvents(tenant),
            Invalidation::Collections(tenant),
            Invalidation::Plans,
            Invalidation::Everything,
        ] {
            assert_eq!(Invalidation::decode(&invalidation.encode()), invalidation);
        }
        assert_eq!(Invalidation::decode("garbage:1"), Invalidation::Everything);
    }
}

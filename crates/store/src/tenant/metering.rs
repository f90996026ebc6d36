//! The tenant's metered use, hour by hour and day by day.
//!
//! See [`crate::metering`] for what is counted and how flushes from
//! several processes add up.

use async_trait::async_trait;
use bulkhead_domain::UserId;
use time::{Date, OffsetDateTime};

use crate::error::Result;
use crate::metering::{MeteredUse, UsageDay, UsageHour};

#[async_trait]
pub trait Metering: Send {
    /// Adds one flush's counts to the tenant's rows: each hour's and each
    /// day's requests and records created are added to what is there
    /// (from this process or others); each day the flush touches takes
    /// the tenant's stored bytes as of this transaction; a day's active
    /// users grow by the users of the flush not yet remembered for that
    /// day, who are then remembered. Remembered users of days before
    /// `forget_users_before` are forgotten first.
    async fn add_metered_use(&mut self, metered: &MeteredUse) -> Result<()>;

    /// The tenant's stored days from `from` to `to` (both included),
    /// oldest first; a day nothing was counted on has no row.
    async fn usage_days(&mut self, from: Date, to: Date) -> Result<Vec<UsageDay>>;

    /// The latest stored day before `day`, if any.
    async fn usage_day_before(&mut self, day: Date) -> Result<Option<UsageDay>>;

    /// The tenant's stored hours starting from `from` to `to` (both
    /// included), oldest first.
    async fn usage_hours(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<UsageHour>>;

    /// The users remembered as counted among `day`'s active users (until
    /// forgotten), by id.
    async fn metered_users(&mut self, day: Date) -> Result<Vec<UserId>>;
}

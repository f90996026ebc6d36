//! The email keys of accounts made before keys existed (migration 0003),
//! and the report of accounts whose keys collide.

use std::collections::HashMap;

use bulkhead_domain::{EmailKey, UserId};
use bulkhead_store::{CollidingUser, EmailKeyCollision};
use sqlx::{Connection as _, PgConnection};
use uuid::Uuid;

/// Gives every account without a key its key and its rank among the
/// accounts sharing that key, oldest first (an account that already holds a
/// key keeps it), then makes the key NOT NULL. One transaction, with the
/// table locked against writes, so concurrent `bulkhead migrate` runs and a
/// server still on the old schema cannot interleave. Returns how many
/// accounts collide with an older one.
pub async fn backfill(connection: &mut PgConnection) -> Result<usize, sqlx::Error> {
    let mut tx = connection.begin().await?;
    sqlx::raw_sql("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let mut taken: HashMap<String, i32> = sqlx::query_as(
        "SELECT email_key, max(email_key_collision) + 1 FROM users
         WHERE email_key IS NOT NULL GROUP BY email_key",
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let unkeyed: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, email FROM users WHERE email_key IS NULL ORDER BY created_at, id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut ids = Vec::with_capacity(unkeyed.len());
    let mut keys = Vec::with_capacity(unkeyed.len());
    let mut ranks = Vec::with_capacity(unkeyed.len());
    for (id, email) in unkeyed {
        let key = EmailKey::of(&email).as_str().to_owned();
        let rank = taken.get(&key).copied().unwrap_or(0);
        taken.insert(key.clone(), rank + 1);
        ids.push(id);
        keys.push(key);
        ranks.push(rank);
    }
    let n_colliding = ranks.iter().filter(|rank| **rank > 0).count();
    // One statement for all rows: a round trip per account would make the
    // migration of a large platform take minutes.
    sqlx::query(
        "UPDATE users SET email_key = keyed.key, email_key_collision = keyed.rank
         FROM unnest($1::uuid[], $2::text[], $3::int[]) AS keyed (id, key, rank)
         WHERE users.id = keyed.id",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&ranks)
    .execute(&mut *tx)
    .await?;
    sqlx::raw_sql("ALTER TABLE users ALTER COLUMN email_key SET NOT NULL")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n_colliding)
}

/// Whether [`backfill`] has run: the key column is NOT NULL.
pub async fn filled(connection: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT attnotnull FROM pg_attribute
         WHERE attrelid = 'users'::regclass AND attname = 'email_key'",
    )
    .fetch_optional(connection)
    .await
    .map(|not_null| not_null.unwrap_or(false))
}

/// Every group of accounts sharing a key, each group oldest first.
pub async fn collisions(
    connection: &mut PgConnection,
) -> Result<Vec<EmailKeyCollision>, sqlx::Error> {
    let rows: Vec<(String, Uuid, String)> = sqlx::query_as(
        "SELECT email_key, id, email FROM users
         WHERE email_key IN (SELECT email_key FROM users WHERE email_key_collision > 0)
         ORDER BY email_key, email_key_collision",
    )
    .fetch_all(connection)
    .await?;
    Ok(EmailKeyCollision::group(rows.into_iter().map(
        |(key, id, email)| {
            let user = CollidingUser {
                id: UserId::from_uuid(id),
                email,
            };
            (key, user)
        },
    )))
}

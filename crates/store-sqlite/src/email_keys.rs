//! The email keys of accounts made before keys existed (migration 0007),
//! and the report of accounts whose keys collide.

use std::collections::HashMap;

use bulkhead_domain::EmailKey;
use bulkhead_store::{CollidingUser, EmailKeyCollision};
use rusqlite::{Connection, params};

use crate::codec::id_col;

/// The migration whose columns [`backfill`] fills, in its transaction.
pub const MIGRATION_VERSION: i64 = 7;

/// Gives every account without a key its key and its rank among the
/// accounts sharing that key, oldest first; an account that already holds a
/// key keeps it. Returns how many accounts collide with an older one.
pub fn backfill(connection: &Connection) -> rusqlite::Result<usize> {
    let mut taken: HashMap<String, i64> = connection
        .prepare(
            "SELECT email_key, max(email_key_collision) + 1 FROM users
             WHERE email_key IS NOT NULL GROUP BY email_key",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let unkeyed: Vec<(Vec<u8>, String)> = connection
        .prepare("SELECT id, email FROM users WHERE email_key IS NULL ORDER BY created_at, id")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = connection
        .prepare("UPDATE users SET email_key = ?2, email_key_collision = ?3 WHERE id = ?1")?;
    let mut n_colliding = 0;
    for (id, email) in unkeyed {
        let key = EmailKey::of(&email).as_str().to_owned();
        let rank = taken.get(&key).copied().unwrap_or(0);
        update.execute(params![id, key, rank])?;
        taken.insert(key, rank + 1);
        n_colliding += usize::from(rank > 0);
    }
    Ok(n_colliding)
}

/// Every group of accounts sharing a key, each group oldest first.
pub fn collisions(connection: &Connection) -> rusqlite::Result<Vec<EmailKeyCollision>> {
    let mut statement = connection.prepare(
        "SELECT email_key, id, email FROM users
         WHERE email_key IN (SELECT email_key FROM users WHERE email_key_collision > 0)
         ORDER BY email_key, email_key_collision",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            CollidingUser {
                id: id_col(row, 1)?,
                email: row.get(2)?,
            },
        ))
    })?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(EmailKeyCollision::group(rows))
}

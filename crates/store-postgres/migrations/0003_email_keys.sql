-- Bulkhead on PostgreSQL: accounts are unique on an email key (issue 17).
--
-- Why: users.email kept the local part's case and any Unicode, so
-- `victimX@example.com`, its fullwidth twin, a copy with a zero-width space
-- and the punycode of its IDN domain were all separate accounts that look
-- identical in member lists and invitations. The key (bulkhead_domain::
-- EmailKey: NFKC, full case folding, A-label domain) needs Unicode tables
-- the server does not have (no case folding, no punycode), so `bulkhead
-- migrate` computes it in Rust for every existing account right after this
-- migration, in one transaction that also makes the column NOT NULL
-- (store-postgres email_keys::backfill). The server refuses to start while
-- the column still allows NULL.
--
-- Accounts made earlier whose addresses share a key are all kept, each
-- logging in with its own stored address: the oldest holds the key
-- (email_key_collision = 0) and the others get 1, 2, ... in order of
-- creation. New accounts always take 0, so the unique index refuses one
-- whose key is taken. The partial index finds the collisions to report.
-- users is a platform table: no row-level security, and the runtime role's
-- grants on it (migrate.rs RUNTIME_GRANTS) cover the new columns.
ALTER TABLE users ADD COLUMN email_key text;
ALTER TABLE users ADD COLUMN email_key_collision integer NOT NULL DEFAULT 0
    CHECK (email_key_collision >= 0);
CREATE UNIQUE INDEX uq_users_email_key ON users (email_key, email_key_collision);
CREATE INDEX ix_users_email_key_collisions ON users (email_key) WHERE email_key_collision > 0;

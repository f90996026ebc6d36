-- Bulkhead on SQLite: the credit ledger (issue 21). Accounts hold integer
-- minor units; transfers move an amount from one account to another of the
-- same currency and scale, and write one posting on each side. Transfers
-- and postings are never changed or deleted: a correction is a reversing
-- transfer.
--
-- An account's `balance` is the sum of its postings' amounts, and its
-- `last_posting` numbers them (1, 2, …), so a posting's `balance_after` is
-- the balance once it and every earlier posting of the account were applied.
-- `held` is what open holds reserve: the available balance is
-- `balance - held`, and only `allow_negative` or `unlimited` accounts may
-- go below what they hold. The CHECKs are the last line; the store refuses
-- an overdraft before it would reach them.
--
-- A `house` account (at most one per currency and scale) issues grants and
-- receives captured holds; it may go negative. `spent_today` and
-- `spent_this_month` are what the account has paid out in the UTC day
-- `spent_day` (days since 1970-01-01) and the UTC month `spent_month`
-- (year * 12 + month - 1), for its limit profile's caps: counters kept
-- with the balance, so a cap is checked under the account's lock without
-- summing postings.

CREATE TABLE ledger_accounts (
    tenant_id      BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             BLOB    NOT NULL CHECK (length(id) = 16),
    name           TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    scale          INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 18),
    owner_id       BLOB,
    allow_negative INTEGER NOT NULL CHECK (allow_negative IN (0, 1)),
    unlimited      INTEGER NOT NULL CHECK (unlimited IN (0, 1)),
    limit_profile  TEXT,
    balance        INTEGER NOT NULL DEFAULT 0,
    held           INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    last_posting   INTEGER NOT NULL DEFAULT 0 CHECK (last_posting >= 0),
    house          INTEGER NOT NULL DEFAULT 0 CHECK (house IN (0, 1)),
    spent_day      INTEGER NOT NULL DEFAULT 0,
    spent_today    INTEGER NOT NULL DEFAULT 0 CHECK (spent_today >= 0),
    spent_month    INTEGER NOT NULL DEFAULT 0,
    spent_this_month INTEGER NOT NULL DEFAULT 0 CHECK (spent_this_month >= 0),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (allow_negative = 1 OR unlimited = 1 OR balance >= held),
    CHECK (house = 0 OR allow_negative = 1)
) STRICT, WITHOUT ROWID;
-- A member's own accounts.
CREATE INDEX ix_ledger_accounts_owner ON ledger_accounts (tenant_id, owner_id, id);
CREATE UNIQUE INDEX uq_ledger_accounts_house ON ledger_accounts (tenant_id, currency, scale)
    WHERE house = 1;

CREATE TABLE ledger_transfers (
    tenant_id    BLOB    NOT NULL,
    id           BLOB    NOT NULL CHECK (length(id) = 16),
    kind         TEXT    NOT NULL CHECK (kind IN ('transfer', 'charge', 'grant', 'adjustment', 'capture')),
    from_account BLOB    NOT NULL,
    to_account   BLOB    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount > 0),
    memo         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (from_account <> to_account),
    FOREIGN KEY (tenant_id, from_account) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, to_account) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_postings (
    tenant_id     BLOB    NOT NULL,
    account_id    BLOB    NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    transfer_id   BLOB    NOT NULL,
    amount        INTEGER NOT NULL CHECK (amount <> 0),
    balance_after INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, account_id, seq),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Holds reserve part of an account's balance: while `held`, `amount`
-- counts in the account's `held`. A hold ends captured (`captured` of it
-- moved by `transfer_id`, the rest released), released, or expired (once
-- `expires_at` has passed, whoever touches the account next marks it).
CREATE TABLE ledger_holds (
    tenant_id   BLOB    NOT NULL,
    id          BLOB    NOT NULL CHECK (length(id) = 16),
    account_id  BLOB    NOT NULL,
    amount      INTEGER NOT NULL CHECK (amount > 0),
    status      TEXT    NOT NULL CHECK (status IN ('held', 'captured', 'released', 'expired')),
    captured    INTEGER NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    transfer_id BLOB,
    memo        TEXT,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    settled_at  INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX ix_ledger_holds_open ON ledger_holds (tenant_id, account_id, expires_at)
    WHERE status = 'held';

-- A tenant's limit profiles: caps on what an account may pay out in one
-- transfer, one UTC day and one UTC month, as decimal text in the account's
-- unit (NULL: no cap). A tenant without a row of a default name (bronze,
-- silver, gold, platinum) has the default.
CREATE TABLE ledger_limit_profiles (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    single     TEXT,
    daily      TEXT,
    monthly    TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT, WITHOUT ROWID;

-- A charge: a metered `cost` of an account, marked up by the tenant's
-- markup of the time (in millionths) to `amount`, and the transfer that
-- debited it to the house account; none for an unlimited account (recorded,
-- not debited) or an amount that rounded to 0.
CREATE TABLE ledger_charges (
    tenant_id         BLOB    NOT NULL,
    id                BLOB    NOT NULL CHECK (length(id) = 16),
    account_id        BLOB    NOT NULL,
    cost              INTEGER NOT NULL CHECK (cost > 0),
    markup_millionths INTEGER NOT NULL CHECK (markup_millionths > 0),
    amount            INTEGER NOT NULL CHECK (amount >= 0),
    transfer_id       BLOB,
    memo              TEXT,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (transfer_id IS NULL OR amount > 0),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
-- An account's charges, newest first.
CREATE INDEX ix_ledger_charges_account ON ledger_charges (tenant_id, account_id, id);

-- The markup of a tenant's charges, in millionths (1000000 is 1), set by a
-- platform admin; NULL until then, when the tenant's plan's applies (1 if
-- the plan sets none). The bounds are those of the
-- domain's Markup.
ALTER TABLE tenants ADD COLUMN charge_markup_millionths INTEGER
    CHECK (charge_markup_millionths BETWEEN 1 AND 1000000000000);

-- Transfers, postings and charges are append-only: the store has no statement that
-- changes or deletes them, and these make a stray one fail loudly. Rows go
-- only with their tenant (the WHEN clause lets the cascade through).
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers is append-only');
END;
CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger_transfers is append-only');
END;
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN
    SELECT RAISE(ABORT, 'ledger_postings is append-only');
END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger_postings is append-only');
END;
CREATE TRIGGER ledger_charges_no_update BEFORE UPDATE ON ledger_charges
BEGIN
    SELECT RAISE(ABORT, 'ledger_charges is append-only');
END;
CREATE TRIGGER ledger_charges_no_delete BEFORE DELETE ON ledger_charges
WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger_charges is append-only');
END;

-- Bulkhead on PostgreSQL: the credit ledger (issue 21). Accounts hold integer
-- minor units; transfers move an amount from one account to another of the
-- same currency and scale, and write one posting on each side. Transfers
-- and postings are insert-only for the runtime role (migrate grants no
-- UPDATE or DELETE): a correction is a reversing transfer.
--
-- An account's `balance` is the sum of its postings' amounts, and its
-- `last_posting` numbers them (1, 2, …), so a posting's `balance_after` is
-- the balance once it and every earlier posting of the account were applied.
-- `held` is what open holds reserve: the available balance is
-- `balance - held`, and only `allow_negative` or `unlimited` accounts may
-- go below what they hold. The CHECKs are the last line; bulkhead_ledger_post
-- refuses an overdraft before it would reach them.

CREATE TABLE ledger_accounts (
    tenant_id      uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             uuid        NOT NULL,
    name           text        NOT NULL,
    currency       text        NOT NULL,
    scale          smallint    NOT NULL CHECK (scale BETWEEN 0 AND 18),
    owner_id       uuid,
    allow_negative boolean     NOT NULL,
    unlimited      boolean     NOT NULL,
    limit_profile  text,
    balance        bigint      NOT NULL DEFAULT 0,
    held           bigint      NOT NULL DEFAULT 0 CHECK (held >= 0),
    last_posting   bigint      NOT NULL DEFAULT 0 CHECK (last_posting >= 0),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (allow_negative OR unlimited OR balance >= held)
);
-- A member's own accounts.
CREATE INDEX ix_ledger_accounts_owner ON ledger_accounts (tenant_id, owner_id, id);

CREATE TABLE ledger_transfers (
    tenant_id    uuid        NOT NULL,
    id           uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('transfer', 'charge', 'grant', 'adjustment', 'capture')),
    from_account uuid        NOT NULL,
    to_account   uuid        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount > 0),
    memo         text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (from_account <> to_account),
    FOREIGN KEY (tenant_id, from_account) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, to_account) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE ledger_postings (
    tenant_id     uuid        NOT NULL,
    account_id    uuid        NOT NULL,
    seq           bigint      NOT NULL CHECK (seq >= 1),
    transfer_id   uuid        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount <> 0),
    balance_after bigint      NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, account_id, seq),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE ledger_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_accounts
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE ledger_transfers ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_transfers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_transfers
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE ledger_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_postings
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

-- Posts one transfer in one round trip: locks both accounts in id order (so
-- two transfers between the same pair, either way round, never deadlock),
-- checks them, moves the amount and writes the transfer and its postings.
-- `outcome` is 'posted', or why nothing was written: 'from_not_found',
-- 'to_not_found', 'currency_mismatch', 'insufficient_funds' or
-- 'balance_overflow'. Each statement takes a new snapshot (READ COMMITTED),
-- so the checks read the balances as locked. SECURITY INVOKER: row-level
-- security applies as to the runtime role's own statements, and under Citus
-- every statement is single-shard on the tenant's shard.
CREATE FUNCTION bulkhead_ledger_post(
    p_tenant uuid, p_transfer uuid, p_kind text, p_from uuid, p_to uuid, p_amount bigint,
    p_memo text, p_at timestamptz,
    OUT outcome text, OUT from_balance bigint, OUT to_balance bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    source ledger_accounts;
    target ledger_accounts;
    from_seq bigint;
    to_seq bigint;
BEGIN
    PERFORM 1 FROM ledger_accounts
        WHERE tenant_id = p_tenant AND id IN (p_from, p_to) ORDER BY id FOR UPDATE;
    SELECT * INTO source FROM ledger_accounts WHERE tenant_id = p_tenant AND id = p_from;
    IF NOT FOUND THEN
        outcome := 'from_not_found';
        RETURN;
    END IF;
    SELECT * INTO target FROM ledger_accounts WHERE tenant_id = p_tenant AND id = p_to;
    IF NOT FOUND THEN
        outcome := 'to_not_found';
        RETURN;
    END IF;
    IF source.currency <> target.currency OR source.scale <> target.scale THEN
        outcome := 'currency_mismatch';
        RETURN;
    END IF;
    IF NOT (source.allow_negative OR source.unlimited)
        AND source.balance - source.held < p_amount THEN
        outcome := 'insufficient_funds';
        RETURN;
    END IF;
    IF target.balance > 9223372036854775807 - p_amount
        OR source.balance < -9223372036854775807 + p_amount THEN
        outcome := 'balance_overflow';
        RETURN;
    END IF;
    UPDATE ledger_accounts SET balance = balance - p_amount, last_posting = last_posting + 1
        WHERE tenant_id = p_tenant AND id = p_from
        RETURNING balance, last_posting INTO from_balance, from_seq;
    UPDATE ledger_accounts SET balance = balance + p_amount, last_posting = last_posting + 1
        WHERE tenant_id = p_tenant AND id = p_to
        RETURNING balance, last_posting INTO to_balance, to_seq;
    INSERT INTO ledger_transfers (tenant_id, id, kind, from_account, to_account, amount, memo, created_at)
    VALUES (p_tenant, p_transfer, p_kind, p_from, p_to, p_amount, p_memo, p_at);
    INSERT INTO ledger_postings (tenant_id, account_id, seq, transfer_id, amount, balance_after, created_at)
    VALUES (p_tenant, p_from, from_seq, p_transfer, -p_amount, from_balance, p_at),
           (p_tenant, p_to, to_seq, p_transfer, p_amount, to_balance, p_at);
    outcome := 'posted';
END
$$;

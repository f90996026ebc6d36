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
--
-- A `house` account (at most one per currency and scale) issues grants and
-- receives captured holds; it may go negative. `spent_today` and
-- `spent_this_month` are what the account has paid out in the UTC day
-- `spent_day` (days since 1970-01-01) and the UTC month `spent_month`
-- (year * 12 + month - 1), for its limit profile's caps: counters kept
-- with the balance, so a cap is checked under the account's lock without
-- summing postings.

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
    house          boolean     NOT NULL DEFAULT false,
    spent_day      bigint      NOT NULL DEFAULT 0,
    spent_today    bigint      NOT NULL DEFAULT 0 CHECK (spent_today >= 0),
    spent_month    bigint      NOT NULL DEFAULT 0,
    spent_this_month bigint    NOT NULL DEFAULT 0 CHECK (spent_this_month >= 0),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (allow_negative OR unlimited OR balance >= held),
    CHECK (NOT house OR allow_negative)
);
-- A member's own accounts.
CREATE INDEX ix_ledger_accounts_owner ON ledger_accounts (tenant_id, owner_id, id);
CREATE UNIQUE INDEX uq_ledger_accounts_house ON ledger_accounts (tenant_id, currency, scale)
    WHERE house;

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

-- Holds reserve part of an account's balance: while `held`, `amount`
-- counts in the account's `held`. A hold ends captured (`captured` of it
-- moved by `transfer_id`, the rest released), released, or expired (once
-- `expires_at` has passed, whoever touches the account next marks it).
CREATE TABLE ledger_holds (
    tenant_id   uuid        NOT NULL,
    id          uuid        NOT NULL,
    account_id  uuid        NOT NULL,
    amount      bigint      NOT NULL CHECK (amount > 0),
    status      text        NOT NULL CHECK (status IN ('held', 'captured', 'released', 'expired')),
    captured    bigint      NOT NULL DEFAULT 0 CHECK (captured >= 0 AND captured <= amount),
    transfer_id uuid,
    memo        text,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    settled_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ix_ledger_holds_open ON ledger_holds (tenant_id, account_id, expires_at)
    WHERE status = 'held';

-- A tenant's limit profiles: caps on what an account may pay out in one
-- transfer, one UTC day and one UTC month, as decimal text in the account's
-- unit (NULL: no cap). A tenant without a row of a default name (bronze,
-- silver, gold, platinum) has the default.
CREATE TABLE ledger_limit_profiles (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    single     text,
    daily      text,
    monthly    text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A charge: a metered `cost` of an account, marked up by the tenant's
-- markup of the time (in millionths) to `amount`, and the transfer that
-- debited it to the house account; none for an unlimited account (recorded,
-- not debited) or an amount that rounded to 0. Insert-only for the runtime
-- role.
CREATE TABLE ledger_charges (
    tenant_id         uuid        NOT NULL,
    id                uuid        NOT NULL,
    account_id        uuid        NOT NULL,
    cost              bigint      NOT NULL CHECK (cost > 0),
    markup_millionths bigint      NOT NULL CHECK (markup_millionths > 0),
    amount            bigint      NOT NULL CHECK (amount >= 0),
    transfer_id       uuid,
    memo              text,
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (transfer_id IS NULL OR amount > 0),
    FOREIGN KEY (tenant_id, account_id) REFERENCES ledger_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, transfer_id) REFERENCES ledger_transfers (tenant_id, id) ON DELETE CASCADE
);
-- An account's charges, newest first.
CREATE INDEX ix_ledger_charges_account ON ledger_charges (tenant_id, account_id, id);

-- The markup of a tenant's charges, in millionths (1000000 is 1), set by a
-- platform admin; NULL until then, when the tenant's plan's applies (1 if
-- the plan sets none). The bounds are those of the
-- domain's Markup. `tenants` is a reference table under Citus, and this
-- runs before migrate distributes anything.
ALTER TABLE tenants ADD COLUMN charge_markup_millionths bigint
    CONSTRAINT ck_tenants_charge_markup CHECK (charge_markup_millionths BETWEEN 1 AND 1000000000000);

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

ALTER TABLE ledger_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_holds
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE ledger_limit_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_limit_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_limit_profiles
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE ledger_charges ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_charges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_charges
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

-- Marks the account's holds whose time has passed as expired and gives
-- back what they reserved. The account must be locked by the caller.
CREATE FUNCTION bulkhead_ledger_expire_holds(p_tenant uuid, p_account uuid, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    freed bigint;
BEGIN
    WITH expired AS (
        UPDATE ledger_holds SET status = 'expired', settled_at = p_now
        WHERE tenant_id = p_tenant AND account_id = p_account AND status = 'held'
          AND expires_at <= p_now
        RETURNING amount
    )
    SELECT sum(amount) INTO freed FROM expired;
    IF freed IS NOT NULL THEN
        UPDATE ledger_accounts SET held = held - freed WHERE tenant_id = p_tenant AND id = p_account;
    END IF;
END
$$;

-- Posts one transfer in one round trip: locks both accounts in id order (so
-- two transfers between the same pair, either way round, never deadlock),
-- lets the source's expired holds go, checks the accounts, moves the amount
-- and writes the transfer and its postings.
--
-- `p_release` is what the source's `held` gives up in the same step (a
-- captured hold's whole amount; 0 otherwise). `p_single`, `p_daily` and
-- `p_monthly` are the source's caps in minor units (NULL: none), counted
-- over the UTC day `p_day` and month `p_month` of `p_at`.
--
-- `outcome` is 'posted', or why nothing was written: 'from_not_found',
-- 'to_not_found', 'currency_mismatch', 'insufficient_funds',
-- 'balance_overflow', 'limit_single', 'limit_daily' or 'limit_monthly'.
-- Each statement takes a new snapshot (READ COMMITTED), so the checks read
-- the balances as locked. SECURITY INVOKER: row-level security applies as to
-- the runtime role's own statements, and under Citus every statement is
-- single-shard on the tenant's shard.
CREATE FUNCTION bulkhead_ledger_post(
    p_tenant uuid, p_transfer uuid, p_kind text, p_from uuid, p_to uuid, p_amount bigint,
    p_memo text, p_at timestamptz, p_release bigint,
    p_single bigint, p_daily bigint, p_monthly bigint, p_day bigint, p_month bigint,
    OUT outcome text, OUT from_balance bigint, OUT to_balance bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    source ledger_accounts;
    target ledger_accounts;
    from_seq bigint;
    to_seq bigint;
    today bigint;
    this_month bigint;
BEGIN
    PERFORM 1 FROM ledger_accounts
        WHERE tenant_id = p_tenant AND id IN (p_from, p_to) ORDER BY id FOR UPDATE;
    PERFORM bulkhead_ledger_expire_holds(p_tenant, p_from, p_at);
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
        AND source.balance - (source.held - p_release) < p_amount THEN
        outcome := 'insufficient_funds';
        RETURN;
    END IF;
    IF target.balance > 9223372036854775807 - p_amount
        OR source.balance < -9223372036854775807 + p_amount THEN
        outcome := 'balance_overflow';
        RETURN;
    END IF;
    today := CASE WHEN source.spent_day = p_day THEN source.spent_today ELSE 0 END;
    this_month := CASE WHEN source.spent_month = p_month THEN source.spent_this_month ELSE 0 END;
    IF p_single IS NOT NULL AND p_amount > p_single THEN
        outcome := 'limit_single';
        RETURN;
    END IF;
    IF p_daily IS NOT NULL AND today > p_daily - p_amount THEN
        outcome := 'limit_daily';
        RETURN;
    END IF;
    IF p_monthly IS NOT NULL AND this_month > p_monthly - p_amount THEN
        outcome := 'limit_monthly';
        RETURN;
    END IF;
    UPDATE ledger_accounts SET balance = balance - p_amount, held = held - p_release,
            last_posting = last_posting + 1,
            spent_day = p_day, spent_month = p_month,
            -- Saturating: an account without caps may pay out more in a day
            -- than a bigint holds, and must not fail for counting it.
            spent_today = CASE WHEN today > 9223372036854775807 - p_amount
                THEN 9223372036854775807 ELSE today + p_amount END,
            spent_this_month = CASE WHEN this_month > 9223372036854775807 - p_amount
                THEN 9223372036854775807 ELSE this_month + p_amount END
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

-- Places a hold of `p_amount` on an account: locks it, lets its expired
-- holds go, checks what is available (unless it may go negative) and the
-- single-transfer cap, and reserves the amount. `outcome` is 'held',
-- 'account_not_found', 'insufficient_funds' or 'limit_single'.
CREATE FUNCTION bulkhead_ledger_hold(
    p_tenant uuid, p_hold uuid, p_account uuid, p_amount bigint, p_memo text,
    p_expires_at timestamptz, p_at timestamptz, p_single bigint,
    OUT outcome text, OUT available bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    account ledger_accounts;
BEGIN
    PERFORM 1 FROM ledger_accounts WHERE tenant_id = p_tenant AND id = p_account FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'account_not_found';
        RETURN;
    END IF;
    PERFORM bulkhead_ledger_expire_holds(p_tenant, p_account, p_at);
    SELECT * INTO account FROM ledger_accounts WHERE tenant_id = p_tenant AND id = p_account;
    IF NOT (account.allow_negative OR account.unlimited)
        AND account.balance - account.held < p_amount THEN
        outcome := 'insufficient_funds';
        RETURN;
    END IF;
    IF account.held > 9223372036854775807 - p_amount THEN
        outcome := 'balance_overflow';
        RETURN;
    END IF;
    IF p_single IS NOT NULL AND p_amount > p_single THEN
        outcome := 'limit_single';
        RETURN;
    END IF;
    UPDATE ledger_accounts SET held = held + p_amount
        WHERE tenant_id = p_tenant AND id = p_account
        RETURNING balance - held INTO available;
    INSERT INTO ledger_holds (tenant_id, id, account_id, amount, status, memo, expires_at, created_at)
    VALUES (p_tenant, p_hold, p_account, p_amount, 'held', p_memo, p_expires_at, p_at);
    outcome := 'held';
END
$$;

-- Ends an open hold: captures `p_capture` of it (NULL: all) by a transfer
-- `p_transfer` to `p_to`, releasing the rest, or releases it all when
-- `p_to` is NULL. The hold is locked first, then the accounts (by
-- bulkhead_ledger_post, in id order). `outcome` is 'captured' or
-- 'released', 'hold_not_found', 'hold_expired', 'hold_settled',
-- 'capture_exceeds_hold', or a refusal of bulkhead_ledger_post.
CREATE FUNCTION bulkhead_ledger_settle_hold(
    p_tenant uuid, p_hold uuid, p_capture bigint, p_transfer uuid, p_to uuid, p_memo text,
    p_at timestamptz, p_single bigint, p_daily bigint, p_monthly bigint, p_day bigint,
    p_month bigint,
    OUT outcome text, OUT amount_captured bigint, OUT from_balance bigint, OUT to_balance bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    held_row ledger_holds;
    posted record;
BEGIN
    SELECT * INTO held_row FROM ledger_holds WHERE tenant_id = p_tenant AND id = p_hold FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'hold_not_found';
        RETURN;
    END IF;
    IF held_row.status = 'expired' OR (held_row.status = 'held' AND held_row.expires_at <= p_at) THEN
        outcome := 'hold_expired';
        RETURN;
    END IF;
    IF held_row.status <> 'held' THEN
        outcome := 'hold_settled';
        RETURN;
    END IF;
    IF p_to IS NULL THEN
        PERFORM 1 FROM ledger_accounts WHERE tenant_id = p_tenant AND id = held_row.account_id FOR UPDATE;
        UPDATE ledger_accounts SET held = held - held_row.amount
            WHERE tenant_id = p_tenant AND id = held_row.account_id;
        UPDATE ledger_holds SET status = 'released', settled_at = p_at
            WHERE tenant_id = p_tenant AND id = p_hold;
        outcome := 'released';
        amount_captured := 0;
        RETURN;
    END IF;
    amount_captured := COALESCE(p_capture, held_row.amount);
    IF amount_captured > held_row.amount THEN
        outcome := 'capture_exceeds_hold';
        RETURN;
    END IF;
    SELECT * INTO posted FROM bulkhead_ledger_post(p_tenant, p_transfer, 'capture', held_row.account_id,
        p_to, amount_captured, COALESCE(p_memo, held_row.memo), p_at, held_row.amount, p_single, p_daily,
        p_monthly, p_day, p_month);
    IF posted.outcome <> 'posted' THEN
        outcome := posted.outcome;
        RETURN;
    END IF;
    UPDATE ledger_holds SET status = 'captured', captured = amount_captured, transfer_id = p_transfer,
            settled_at = p_at
        WHERE tenant_id = p_tenant AND id = p_hold;
    outcome := 'captured';
    from_balance := posted.from_balance;
    to_balance := posted.to_balance;
END
$$;

-- Records a charge in one round trip: unless the account is unlimited or
-- `p_amount` is 0, posts its transfer `p_transfer` of kind 'charge' to the
-- house account `p_house` through bulkhead_ledger_post (which locks both
-- accounts in id order and checks funds and caps), then writes the charge.
-- `unlimited` is read without a lock: no statement ever changes it.
-- `outcome` is 'charged' (`debit` the transfer's id, or NULL when nothing
-- was debited), 'from_not_found' or a refusal of bulkhead_ledger_post, in
-- which case nothing was written.
CREATE FUNCTION bulkhead_ledger_charge(
    p_tenant uuid, p_charge uuid, p_account uuid, p_cost bigint, p_markup bigint,
    p_amount bigint, p_memo text, p_at timestamptz, p_transfer uuid, p_house uuid,
    p_single bigint, p_daily bigint, p_monthly bigint, p_day bigint, p_month bigint,
    OUT outcome text, OUT debit uuid)
LANGUAGE plpgsql
AS $$
DECLARE
    is_unlimited boolean;
    posted record;
BEGIN
    SELECT unlimited INTO is_unlimited FROM ledger_accounts
        WHERE tenant_id = p_tenant AND id = p_account;
    IF NOT FOUND THEN
        outcome := 'from_not_found';
        RETURN;
    END IF;
    IF NOT is_unlimited AND p_amount > 0 THEN
        SELECT * INTO posted FROM bulkhead_ledger_post(p_tenant, p_transfer, 'charge', p_account,
            p_house, p_amount, p_memo, p_at, 0, p_single, p_daily, p_monthly, p_day, p_month);
        IF posted.outcome <> 'posted' THEN
            outcome := posted.outcome;
            RETURN;
        END IF;
        debit := p_transfer;
    END IF;
    INSERT INTO ledger_charges (tenant_id, id, account_id, cost, markup_millionths, amount,
        transfer_id, memo, created_at)
    VALUES (p_tenant, p_charge, p_account, p_cost, p_markup, p_amount, debit, p_memo, p_at);
    outcome := 'charged';
END
$$;

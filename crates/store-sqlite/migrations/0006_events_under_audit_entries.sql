-- Bulkhead on SQLite: a record event is stored under its audit entry and
-- numbered by it.
--
-- Why: every record write appends an audit entry and an event in the same
-- transaction, and each was found through an index of its own led by
-- (tenant_id, seq). A group commit carries creates of many tenants, and each
-- tenant-ordered B-tree a create touches is one more page in the WAL for
-- every tenant in the group. Keyed by the audit entry's row, an event is
-- appended in write order, where a group's events share pages, and the audit
-- log's (tenant_id, seq) index, which every write touches anyway, finds a
-- tenant's events: a tenant's stream is the record changes of its audit log.
-- An event's number is its entry's, so numbers still increase per tenant,
-- with gaps where the log has other entries. Measured figures: README,
-- "Benchmarks".
--
-- Events written before this get their entry's number too (each record write
-- appended its event and its entry together: the k-th event of a record and
-- kind pairs with the k-th successful audit entry of that record and
-- action). A client resuming with an old event number may be sent again
-- events it had: an entry's number is never below its event's old one. An
-- event without such an entry was not written by Bulkhead's services and is
-- not carried over.
CREATE TABLE record_events_v6 (
    entry      INTEGER NOT NULL PRIMARY KEY REFERENCES audit_log (entry) ON DELETE CASCADE,
    tenant_id  BLOB    NOT NULL,
    collection TEXT    NOT NULL,
    record_id  BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind = 'create' OR kind = 'update' OR kind = 'delete'),
    owner_id   BLOB,
    payload    TEXT    NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

-- The pairing, through two numbered lists indexed for the join. Written as
-- one join of two subqueries, SQLite compared each event with every entry
-- of its tenant, kind and number, whatever the record: on the benchmark's
-- database (100 tenants, 100,000 events) the server took 9 s to start, and
-- by that plan the cost grows with the square of a tenant's events (not
-- measured at larger sizes); this way, 1.2 s.
CREATE TEMP TABLE event_order AS
    SELECT rowid AS event_row, tenant_id, record_id, kind,
           row_number() OVER (PARTITION BY tenant_id, record_id, kind ORDER BY seq) AS nth
    FROM record_events;
CREATE TEMP TABLE change_order AS
    SELECT entry, tenant_id, unhex(replace(resource_id, '-', '')) AS record_id,
           substr(action, 8) AS kind,
           row_number() OVER (PARTITION BY tenant_id, resource_id, action ORDER BY seq) AS nth
    FROM audit_log
    WHERE resource_type = 'record' AND outcome = 'success'
      AND action IN ('record.create', 'record.update', 'record.delete');
CREATE UNIQUE INDEX temp.ix_change_order ON change_order (tenant_id, record_id, kind, nth);

INSERT INTO record_events_v6 (entry, tenant_id, collection, record_id, kind, owner_id, payload, at)
    SELECT c.entry, e.tenant_id, e.collection, e.record_id, e.kind, e.owner_id, e.payload, e.at
    FROM event_order o
    JOIN change_order c ON c.tenant_id = o.tenant_id AND c.record_id = o.record_id
                       AND c.kind = o.kind AND c.nth = o.nth
    JOIN record_events e ON e.rowid = o.event_row
    ORDER BY c.entry;

DROP TABLE temp.event_order;
DROP TABLE temp.change_order;
DROP TABLE record_events;
ALTER TABLE record_events_v6 RENAME TO record_events;

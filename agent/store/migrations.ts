/**
 * Versioned schema, applied in order and recorded in `PRAGMA user_version`. Never edit a released
 * migration: add the next one.
 */
export const MIGRATIONS: string[] = [
  /* 1 */ `
  CREATE TABLE herd (
    collar_id  TEXT PRIMARY KEY,
    farm_id    TEXT NOT NULL,
    cow_id     TEXT NOT NULL,
    name       TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
  );

  -- rx is the arrival order: replaying readings by rx after a snapshot reproduces exactly what was judged.
  CREATE TABLE readings (
    rx          INTEGER PRIMARY KEY,
    collar_id   TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    interval_s  INTEGER NOT NULL,
    activity    REAL NOT NULL,
    rumination  REAL,
    eating      REAL,
    lying       REAL,
    temperature REAL,
    battery_pct REAL,
    rssi        REAL,
    seq         INTEGER,
    received_at INTEGER NOT NULL,
    UNIQUE (collar_id, ts)
  );
  CREATE INDEX readings_by_ts ON readings (ts);

  CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    farm_id    TEXT NOT NULL,
    cow_id     TEXT NOT NULL,
    collar_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    raised_at  INTEGER NOT NULL,
    since      INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    evidence   TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX alerts_one_open ON alerts (cow_id, type) WHERE state = 'firing';
  CREATE INDEX alerts_by_at ON alerts (at);

  -- One row per (alert transition, channel): written in the same transaction as the alert.
  CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    state           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    UNIQUE (alert_id, state, channel)
  );
  CREATE INDEX outbox_due ON outbox (status, channel, next_attempt_at, id);

  CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    topic         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    payload_head  TEXT NOT NULL,
    payload_bytes INTEGER NOT NULL
  );

  CREATE TABLE detector_snapshot (
    cow_id TEXT PRIMARY KEY,
    state  TEXT NOT NULL
  );

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  /* 2: people, not only channels, get the message; alerts can be acknowledged and snoozed */ `
  -- The detector's lifecycle stays in state (firing/resolved); what a person did with an open alert is apart.
  ALTER TABLE alerts ADD COLUMN ack_state TEXT CHECK (ack_state IN ('acknowledged', 'snoozed'));
  ALTER TABLE alerts ADD COLUMN ack_by TEXT;
  ALTER TABLE alerts ADD COLUMN ack_at INTEGER;
  ALTER TABLE alerts ADD COLUMN snoozed_until INTEGER;
  -- Agent clock from which escalation counts: when the alert was recorded, or when a snooze on it ended.
  ALTER TABLE alerts ADD COLUMN escalate_from INTEGER;
  UPDATE alerts SET escalate_from = updated_at;
  CREATE INDEX alerts_open ON alerts (state, severity) WHERE state = 'firing';
  -- /api/alerts?since= and the status page read by recording time.
  CREATE INDEX alerts_by_updated ON alerts (updated_at);

  -- One row per (alert, recipient, reason to tell): written with the alert transition in one transaction.
  -- The notifier folds the pending rows of one recipient into one message when they are due.
  CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    alert_id    TEXT NOT NULL REFERENCES alerts (id),
    recipient   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('new', 'resolved', 'reminder', 'escalation')),
    dedup       TEXT NOT NULL,
    urgent      INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'inflight', 'sent', 'failed', 'merged', 'skipped', 'expired', 'dropped')),
    not_before  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    message_id  INTEGER,
    UNIQUE (alert_id, recipient, dedup)
  );
  CREATE INDEX notifications_by_recipient ON notifications (recipient, status, id);
  CREATE INDEX notifications_by_message ON notifications (message_id);
  CREATE INDEX notifications_by_alert ON notifications (alert_id, recipient, status);

  -- One row per message put together for one person. 'inflight' is written before the request, so a crash
  -- between the request and its outcome is found at the next start and the message is sent again.
  CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    recipient   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('inflight', 'sent', 'retry', 'failed')),
    urgent      INTEGER NOT NULL,
    items       INTEGER NOT NULL,
    text        TEXT NOT NULL,
    provider_id TEXT,
    delivery    TEXT,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
  );
  CREATE INDEX messages_by_provider ON messages (provider_id) WHERE provider_id IS NOT NULL;
  CREATE INDEX messages_sent ON messages (recipient, status, sent_at);

  -- Which alerts each message told about, kept when a retry re-sends them under a new message: the
  -- buttons on a copy that reached the phone before a crash or a timeout still work.
  CREATE TABLE message_items (
    message_id INTEGER NOT NULL,
    alert_id   TEXT NOT NULL,
    PRIMARY KEY (message_id, alert_id)
  ) WITHOUT ROWID;

  CREATE TABLE recipient_state (
    recipient       TEXT PRIMARY KEY,
    opted_out       INTEGER NOT NULL DEFAULT 0,
    -- WhatsApp's customer-service window: free-form messages allowed until then (agent clock).
    window_until    INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_sent_at    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
  );

  -- Ids of inbound webhooks and updates already acted on: a replayed or redelivered one changes nothing.
  CREATE TABLE inbound_seen (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
  );
  `,
  /* 3 */ `
  -- The herd register: cows as the farm knows them. cow_id is the farm's cow number.
  CREATE TABLE cows (
    cow_id         TEXT PRIMARY KEY,
    name           TEXT,
    grp            TEXT,
    calved_on      TEXT,
    inseminated_on TEXT,
    notes          TEXT,
    updated_at     INTEGER NOT NULL
  );

  -- herd.cow_id is whose detector a collar's readings feed: the cow wearing it, or the collar itself while
  -- it is unassigned. Readings up to from_rx were another cow's (a collar moved): a rebuild skips them.
  ALTER TABLE herd ADD COLUMN assigned INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE herd ADD COLUMN from_rx INTEGER NOT NULL DEFAULT 0;

  -- Every change of who wears which collar, for the register's history (cow_id NULL: taken off).
  CREATE TABLE collar_assignments (
    id        INTEGER PRIMARY KEY,
    collar_id TEXT NOT NULL,
    cow_id    TEXT,
    at        INTEGER NOT NULL
  );
  CREATE INDEX collar_assignments_by_cow ON collar_assignments (cow_id);

  -- The cow's name as it was when the alert was raised: a message or a feed says "Cow 412 Bella".
  ALTER TABLE alerts ADD COLUMN cow_name TEXT;
  `,
];

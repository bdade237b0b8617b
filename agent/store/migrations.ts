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
];

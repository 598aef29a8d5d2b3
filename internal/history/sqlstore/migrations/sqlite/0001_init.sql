-- Finished runs, one row per run UID. Times are Unix milliseconds (UTC).
CREATE TABLE runs (
  uid TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  workflow TEXT NOT NULL,
  workflow_revision TEXT NOT NULL DEFAULT '',
  workflow_generation BIGINT NOT NULL DEFAULT 0,
  subject TEXT NOT NULL DEFAULT '',
  event_source TEXT NOT NULL DEFAULT '',
  event_id TEXT NOT NULL DEFAULT '',
  event_type TEXT NOT NULL DEFAULT '',
  phase TEXT NOT NULL,
  result TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  started_ms BIGINT NOT NULL DEFAULT 0,
  finished_ms BIGINT NOT NULL,
  scheduled_ms BIGINT NOT NULL DEFAULT 0,
  body TEXT NOT NULL,
  size_bytes BIGINT NOT NULL
);
CREATE INDEX runs_by_workflow ON runs (namespace, workflow, created_ms, uid);
CREATE INDEX runs_by_subject ON runs (namespace, subject, created_ms, uid);
CREATE INDEX runs_by_name ON runs (namespace, name, created_ms);
CREATE INDEX runs_by_finish ON runs (finished_ms, uid);

-- The deduplication key of every archived run enrolled by an event.
CREATE TABLE event_keys (
  namespace TEXT NOT NULL,
  workflow TEXT NOT NULL,
  event_source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  uid TEXT NOT NULL,
  finished_ms BIGINT NOT NULL,
  PRIMARY KEY (namespace, workflow, event_source, event_id)
);
CREATE INDEX event_keys_by_finish ON event_keys (finished_ms);

-- Skipped events, capped per workflow per minute through skip_minutes.
CREATE TABLE skips (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  workflow TEXT NOT NULL,
  reason TEXT NOT NULL,
  event_id TEXT NOT NULL DEFAULT '',
  event_source TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  at_ms BIGINT NOT NULL
);
CREATE INDEX skips_by_event ON skips (namespace, event_id);
CREATE INDEX skips_by_subject ON skips (namespace, subject, at_ms);
CREATE INDEX skips_by_workflow ON skips (namespace, workflow, at_ms);
CREATE INDEX skips_by_time ON skips (at_ms);

CREATE TABLE skip_minutes (
  namespace TEXT NOT NULL,
  workflow TEXT NOT NULL,
  minute BIGINT NOT NULL,
  seen BIGINT NOT NULL,
  PRIMARY KEY (namespace, workflow, minute)
);

-- Per-day rollups of archived runs (bucketed by creation day), kept
-- incrementally by Archive so analytics read days, not runs.
CREATE TABLE daily (
  namespace TEXT NOT NULL,
  workflow TEXT NOT NULL,
  day BIGINT NOT NULL,
  enrolled BIGINT NOT NULL,
  succeeded BIGINT NOT NULL,
  failed BIGINT NOT NULL,
  cancelled BIGINT NOT NULL,
  goal_reached BIGINT NOT NULL,
  PRIMARY KEY (namespace, workflow, day)
);

CREATE TABLE daily_steps (
  namespace TEXT NOT NULL,
  workflow TEXT NOT NULL,
  day BIGINT NOT NULL,
  step TEXT NOT NULL,
  reached BIGINT NOT NULL,
  succeeded BIGINT NOT NULL,
  failed BIGINT NOT NULL,
  skipped BIGINT NOT NULL,
  PRIMARY KEY (namespace, workflow, day, step)
);

-- 006_alert_lifecycle.sql: the alert lifecycle of issue 5
-- (docs/alerting.md): silences, acknowledgements, inhibition, repeats and
-- the versions of the rules file.

-- Silences: a notification of an alert whose labels match every matcher
-- while now() is in [starts_at, ends_at) is not sent. matchers is a JSON
-- array of {"name": LABEL, "op": "=" | "!=" | "=~" | "!~", "value": TEXT}
-- (regular expressions are POSIX extended, anchored at both ends).
-- Expiring a silence sets ends_at to now() and expired_by.
CREATE TABLE silence (
	id          bigserial PRIMARY KEY,
	matchers    jsonb NOT NULL CHECK (jsonb_typeof(matchers) = 'array'
	              AND jsonb_array_length(matchers) BETWEEN 1 AND 32),
	created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 128),
	comment     text NOT NULL CHECK (length(comment) BETWEEN 1 AND 1024),
	starts_at   timestamptz NOT NULL,
	ends_at     timestamptz NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	expired_by  text,
	CHECK (ends_at > starts_at)
);
CREATE INDEX silence_ends ON silence(ends_at);

-- Notification state of an alert's current firing: when it was last
-- notified (NULL: not yet, or held back) and, when held back, why
-- ('silenced:<silence id>', 'inhibited:<fingerprint>', 'acknowledged').
-- hsi-alerter re-notifies a firing alert when what held it back ends,
-- when its acknowledgement expires, and every repeat interval while it
-- is neither acknowledged nor held back.
ALTER TABLE alert ADD COLUMN notified_at timestamptz,
	ADD COLUMN held_by text,
	ADD COLUMN kind text NOT NULL DEFAULT 'score';
-- kind: what made the alert: 'score' (threshold, deterioration),
-- 'late_data', 'suspicious', 'spike'.
CREATE INDEX alert_live ON alert(state) WHERE state <> 'resolved';
-- Alerts firing before this migration were notified when they fired.
UPDATE alert SET notified_at = updated_at WHERE state = 'firing';

-- Every rules file the alerter has run with (hsi-alerter records it at
-- start and on each reload); alert events name the version in detail.
CREATE TABLE alert_rules (
	version    serial PRIMARY KEY,
	sha256     text NOT NULL UNIQUE,
	doc        jsonb NOT NULL,
	source     text NOT NULL,
	loaded_at  timestamptz NOT NULL DEFAULT now()
);

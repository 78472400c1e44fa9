-- 001_base.sql: the foundation schema (docs/architecture.md, "Persistence").
-- Applied once, in one transaction, by hsi-scorer at start-up; its name is
-- recorded in schema_migrations. Never edit an applied migration: add one.

CREATE TABLE agency (
	code      text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9]{1,15}$'),
	name_th   text NOT NULL,
	name_en   text NOT NULL
);

-- HMAC keys of agency nodes. A key stays valid until retired_at.
CREATE TABLE agency_key (
	agency     text NOT NULL REFERENCES agency(code),
	key_id     text PRIMARY KEY,
	secret     bytea NOT NULL CHECK (length(secret) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	retired_at timestamptz
);

CREATE TABLE dimension (
	code    text PRIMARY KEY,
	name_th text NOT NULL,
	name_en text NOT NULL,
	ord     int NOT NULL
);

-- Areas form a tree (nation > region > province > district > tambon), so
-- deeper levels fit later without a schema change.
CREATE TABLE area (
	code    text PRIMARY KEY,
	parent  text REFERENCES area(code),
	level   text NOT NULL CHECK (level IN
	          ('nation', 'region', 'province', 'district', 'subdistrict')),
	iso     text,
	name_th text NOT NULL,
	name_en text NOT NULL
);
CREATE INDEX area_parent ON area(parent);

CREATE TABLE area_population (
	area       text NOT NULL REFERENCES area(code),
	year       int NOT NULL,
	population bigint NOT NULL CHECK (population >= 0),
	source     text,
	PRIMARY KEY (area, year)
);

CREATE TABLE indicator (
	code           text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
	dimension      text NOT NULL REFERENCES dimension(code),
	agency         text NOT NULL REFERENCES agency(code),
	name_th        text NOT NULL,
	name_en        text NOT NULL,
	unit           text NOT NULL,
	frequency      text NOT NULL CHECK (frequency IN
	  ('annual', 'fiscal', 'quarterly', 'fquarterly', 'monthly', 'daily')),
	hard_min       double precision NOT NULL,
	hard_max       double precision NOT NULL,
	rollup_area    text NOT NULL CHECK (rollup_area IN ('wmean', 'sum', 'national')),
	rollup_time    text NOT NULL CHECK (rollup_time IN ('mean', 'sum', 'last')),
	min_subperiods int NOT NULL,
	direction      int NOT NULL CHECK (direction IN (-1, 1)),
	lo             double precision NOT NULL,
	hi             double precision NOT NULL,
	weight         double precision NOT NULL CHECK (weight >= 0),
	in_index       boolean NOT NULL,
	definition_th  text NOT NULL,
	definition_en  text NOT NULL,
	source         text NOT NULL,
	CHECK (hard_min <= hard_max)
);

-- One row; bumped whenever the catalog changes, named in every ack.
CREATE TABLE catalog_version (
	one        boolean PRIMARY KEY DEFAULT true CHECK (one),
	version    int NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE methodology (
	version      serial PRIMARY KEY,
	name         text NOT NULL,
	doc          jsonb NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	created_by   text NOT NULL,
	activated_at timestamptz,
	activated_by text
);

-- Current value of every (indicator, area, period). year is the calendar
-- index year and fyear the fiscal index year the period rolls up into, so
-- scoring a year is one indexed range read.
CREATE TABLE observation (
	indicator  text NOT NULL REFERENCES indicator(code),
	area       text NOT NULL REFERENCES area(code),
	period     text NOT NULL,
	year       int NOT NULL,
	fyear      int NOT NULL,
	value      double precision,
	status     char(1) NOT NULL CHECK (status IN ('A', 'E', 'P', 'M')),
	note       text,
	agency     text NOT NULL REFERENCES agency(code),
	file_id    text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (indicator, area, period),
	CHECK ((status = 'M') = (value IS NULL))
);
CREATE INDEX observation_year ON observation(year);
CREATE INDEX observation_fyear ON observation(fyear);
CREATE INDEX observation_updated ON observation(updated_at);

-- Every value ever accepted, with who, when and which file.
CREATE TABLE observation_revision (
	id          bigserial PRIMARY KEY,
	indicator   text NOT NULL,
	area        text NOT NULL,
	period      text NOT NULL,
	value       double precision,
	status      char(1) NOT NULL,
	note        text,
	agency      text NOT NULL,
	node_id     text NOT NULL,
	file_id     text NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX observation_revision_key
	ON observation_revision(indicator, area, period, recorded_at);

-- Progress of each node's stream; seq <= last_seq is durable here.
CREATE TABLE node_progress (
	agency     text NOT NULL REFERENCES agency(code),
	node_id    text NOT NULL,
	epoch      bigint NOT NULL,
	last_seq   bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (agency, node_id, epoch)
);

-- Parts staged until their file is complete; deleted when applied.
CREATE TABLE ingest_part (
	agency      text NOT NULL,
	node_id     text NOT NULL,
	epoch       bigint NOT NULL,
	seq         bigint NOT NULL,
	file_id     text NOT NULL,
	part        int NOT NULL,
	parts       int NOT NULL,
	payload     bytea NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (agency, node_id, epoch, seq)
);
CREATE INDEX ingest_part_file ON ingest_part(agency, node_id, epoch, file_id);

-- Each file's verdict, kept and re-sent until the node confirms it.
CREATE TABLE ingest_file (
	agency       text NOT NULL,
	node_id      text NOT NULL,
	epoch        bigint NOT NULL,
	file_id      text NOT NULL,
	file_name    text NOT NULL,
	state        text NOT NULL CHECK (state IN ('applied', 'rejected')),
	imported     int NOT NULL DEFAULT 0,
	updated      int NOT NULL DEFAULT 0,
	ignored      int NOT NULL DEFAULT 0,
	rejected     int NOT NULL DEFAULT 0,
	rejections   jsonb NOT NULL DEFAULT '[]',
	applied_at   timestamptz NOT NULL DEFAULT now(),
	confirmed_at timestamptz,
	PRIMARY KEY (agency, node_id, epoch, file_id)
);

CREATE TABLE quarantine (
	id          bigserial PRIMARY KEY,
	agency      text,
	node_id     text,
	epoch       bigint,
	seq         bigint,
	reason      text NOT NULL,
	detail      text,
	message     bytea,
	received_at timestamptz NOT NULL DEFAULT now()
);

-- Global order of score updates; every ScoreEvent carries one.
CREATE SEQUENCE score_seq;

-- Scores per methodology version, period, area and code (the composite
-- "hsi", a group or dimension code, or an indicator code).
CREATE TABLE score (
	methodology int NOT NULL REFERENCES methodology(version),
	period      text NOT NULL,
	area        text NOT NULL REFERENCES area(code),
	level       text NOT NULL CHECK (level IN ('index', 'group', 'indicator')),
	code        text NOT NULL,
	value       double precision,
	raw         double precision,
	coverage    double precision,
	rank        int,
	band        text,
	delta       double precision,
	rank_delta  int,
	event_seq   bigint NOT NULL,
	computed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (methodology, period, area, code)
);
CREATE INDEX score_seq_idx ON score(event_seq);

CREATE TABLE score_event (
	seq         bigint PRIMARY KEY,
	methodology int NOT NULL,
	period      text NOT NULL,
	areas       text[] NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert (
	fingerprint text PRIMARY KEY,
	rule        text NOT NULL,
	labels      jsonb NOT NULL,
	annotations jsonb NOT NULL DEFAULT '{}',
	state       text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
	value       double precision,
	threshold   double precision,
	starts_at   timestamptz NOT NULL,
	ends_at     timestamptz,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	acked_by    text,
	acked_at    timestamptz,
	ack_comment text,
	ack_expires timestamptz
);

CREATE SEQUENCE alert_seq;

CREATE TABLE alert_event (
	seq         bigint PRIMARY KEY DEFAULT nextval('alert_seq'),
	fingerprint text NOT NULL REFERENCES alert(fingerprint),
	state       text NOT NULL,
	value       double precision,
	at          timestamptz NOT NULL DEFAULT now(),
	detail      jsonb
);
CREATE INDEX alert_event_fp ON alert_event(fingerprint, seq);

CREATE TABLE notification_outbox (
	id           bigserial PRIMARY KEY,
	notification_id text NOT NULL UNIQUE,
	receiver     text NOT NULL,
	payload      jsonb NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	attempts     int NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL DEFAULT now(),
	delivered_at timestamptz,
	last_error   text
);

CREATE TABLE api_token (
	id          bigserial PRIMARY KEY,
	sha256      bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
	role        text NOT NULL CHECK (role IN ('admin', 'viewer') OR role ~ '^agency:[A-Z][A-Z0-9]{1,15}$'),
	label       text NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	expires_at  timestamptz,
	revoked_at  timestamptz
);

CREATE TABLE audit_log (
	id      bigserial PRIMARY KEY,
	at      timestamptz NOT NULL DEFAULT now(),
	actor   text NOT NULL,
	action  text NOT NULL,
	target  text,
	detail  jsonb
);

-- 009_api_submission.sql: the REST gateway's own outbox, for
-- POST /v1/observations (openapi.yaml, submitObservations, getSubmission).
--
-- hsi-api submits into the same pipeline as an agency's ingest node, as a
-- node of its own for each agency (node id api-<AGENCY>): it validates with
-- the node's code, commits the file here as numbered parts before it answers
-- 202, and a sender thread publishes the parts to the scorer until the
-- scorer's cumulative ack covers them (docs/protocol.md). PostgreSQL plays
-- the part of the node's SQLite outbox: the commit is durable before the
-- client hears of it, and the epoch, the sequence and the acked point
-- survive restarts, so the scorer's exactly-once check (node_progress) holds
-- across them. The gateway shares the database with the scorer; the rows
-- here are its own and the scorer never reads them.

-- One gateway node per agency. epoch is drawn when the row is made, as a
-- node's outbox epoch is; next_seq is the seq the next part gets, acked_seq
-- the scorer's cumulative ack. Taking seqs locks the row, so two requests
-- (or two gateways on one database) never give out one seq twice.
CREATE TABLE api_node (
	agency     text PRIMARY KEY REFERENCES agency(code),
	node_id    text NOT NULL UNIQUE,
	epoch      bigint NOT NULL CHECK (epoch >= 0),
	next_seq   bigint NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
	acked_seq  bigint NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (acked_seq >= 0 AND acked_seq < next_seq)
);

-- Every submission accepted with 202: what the gateway found (rows, the
-- rows left out in mode=partial) and, once the scorer has applied the file
-- and its ack came back, the verdict (the contract's Verdict object).
-- issues and verdict are json, not jsonb: they are only ever sent back as
-- they were written, members in the contract's order.
CREATE TABLE api_submission (
	id               text PRIMARY KEY CHECK (id ~ '^api-[0-9a-f]{16}$'),
	agency           text NOT NULL REFERENCES api_node(agency),
	node_id          text NOT NULL,
	epoch            bigint NOT NULL,
	file_id          text NOT NULL UNIQUE CHECK (file_id ~ '^[0-9a-f-]{1,79}$'),
	file_name        text NOT NULL,
	format           text NOT NULL
	                 CHECK (format IN ('agency_csv', 'sdmx_csv', 'jsonl', 'json')),
	mode             text NOT NULL CHECK (mode IN ('atomic', 'partial')),
	token_id         bigint REFERENCES api_token(id),
	received_at      timestamptz NOT NULL DEFAULT now(),
	rows             int NOT NULL CHECK (rows >= 0),
	valid_rows       int NOT NULL CHECK (valid_rows >= 0),
	invalid_rows     int NOT NULL CHECK (invalid_rows >= 0),
	issues_truncated boolean NOT NULL,
	issues           json NOT NULL DEFAULT '[]',
	first_seq        bigint NOT NULL,
	last_seq         bigint NOT NULL,
	state            text NOT NULL DEFAULT 'queued'
	                 CHECK (state IN ('queued', 'applied', 'rejected')),
	verdict          json,
	CHECK ((state = 'queued') = (verdict IS NULL)),
	CHECK (first_seq <= last_seq)
);
CREATE INDEX api_submission_queued ON api_submission(agency)
	WHERE state = 'queued';

-- Parts the scorer has not acknowledged yet, stored unsigned (packed
-- ObservationBatch) and sealed when sent, so a key rotation strands
-- nothing; deleted in the transaction that records the ack.
CREATE TABLE api_outbox_part (
	agency        text NOT NULL REFERENCES api_node(agency),
	seq           bigint NOT NULL,
	submission_id text NOT NULL REFERENCES api_submission(id),
	payload       bytea NOT NULL,
	PRIMARY KEY (agency, seq)
);

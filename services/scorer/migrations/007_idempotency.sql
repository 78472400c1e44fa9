-- 007_idempotency.sql: Idempotency-Key for hsi-api's writes (openapi.yaml,
-- "Writes"). A client that retries a write with the same key gets the
-- first answer again instead of doing it twice; the same key with another
-- request is refused (422), and one still running answers 409.
--
-- Generic on purpose: any write endpoint stores its answer here (alert
-- acknowledgements, silences, observation submissions). A key belongs to
-- the token that sent it, so two clients cannot collide or read each
-- other's answers. status is NULL while the first request runs; only
-- successful answers are kept (a refused request changed nothing, so its
-- retry simply runs again). Rows older than 24 hours are deleted by the
-- gateway before it claims a key, so a key can be used again after that.
CREATE TABLE api_idempotency (
	id               bigserial PRIMARY KEY,
	token_id         bigint NOT NULL REFERENCES api_token(id),
	key              text NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
	method           text NOT NULL,
	path             text NOT NULL,
	-- SHA-256 (hex) of the method, path and body bytes of the request.
	request_hash     text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
	status           int CHECK (status BETWEEN 100 AND 599),
	response_type    text,
	response_body    text,
	-- Headers to send again with the answer (Location), {name: value}.
	response_headers jsonb NOT NULL DEFAULT '{}',
	created_at       timestamptz NOT NULL DEFAULT now(),
	completed_at     timestamptz,
	UNIQUE (token_id, key),
	CHECK ((status IS NULL) = (completed_at IS NULL))
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

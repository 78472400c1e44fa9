-- 008_api_indexes.sql: what hsi-api's observation listings need beyond
-- the keys they page by (openapi.yaml, listObservations and listRevisions).
--
-- GET /v1/observations/revisions?updated_after=T is how a client keeps a
-- copy of the history in sync: it asks for what was recorded after the
-- last recorded_at it saw. Without an index that is a scan of the whole
-- history, which only grows (24 ms at 200 000 revisions, against 0.4 ms
-- with this one). Observations page by their primary key and filter
-- updated_at with observation_updated (001), so they need nothing new.
CREATE INDEX observation_revision_recorded
	ON observation_revision(recorded_at);

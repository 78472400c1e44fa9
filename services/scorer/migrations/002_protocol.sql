-- 002_protocol.sql: what the delivery protocol needs beyond 001.
-- The key a node last signed with: heartbeat acks are signed with the
-- same key, so a node verifies them even across a key rotation.
ALTER TABLE node_progress ADD COLUMN key_id text;
CREATE INDEX ingest_file_unconfirmed ON ingest_file(agency, node_id, epoch)
	WHERE confirmed_at IS NULL;

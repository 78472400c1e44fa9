-- 003_methodology.sql: methodology as data (issue 4, docs/methodology.md).

-- Every activation, so the version in force at any date is known even when
-- an older version is activated again (vintages, §5).
CREATE TABLE methodology_activation (
	id           bigserial PRIMARY KEY,
	version      int NOT NULL REFERENCES methodology(version),
	activated_at timestamptz NOT NULL DEFAULT now(),
	activated_by text NOT NULL
);
CREATE INDEX methodology_activation_at ON methodology_activation(activated_at);
INSERT INTO methodology_activation(version, activated_at, activated_by)
	SELECT version, activated_at, coalesce(activated_by, 'unknown')
	FROM methodology WHERE activated_at IS NOT NULL;

-- The index years of a revision, so the data as of a date are one range
-- read per year.
ALTER TABLE observation_revision ADD COLUMN year int, ADD COLUMN fyear int;
UPDATE observation_revision r SET year = o.year, fyear = o.fyear
	FROM observation o
	WHERE o.indicator = r.indicator AND o.area = r.area AND o.period = r.period;
CREATE INDEX observation_revision_year ON observation_revision(year);
CREATE INDEX observation_revision_fyear ON observation_revision(fyear);

-- Results: each node's contribution to the change of the composite, and
-- whether an indicator's value was imputed. rank_delta is the rank change
-- (previous rank - current rank: positive moved up).
ALTER TABLE score ADD COLUMN contribution double precision,
	ADD COLUMN imputed boolean;

-- Every accepted reading as a row, for queries and dashboards (cloud-sink/readings/). Time is
-- timestamptz: what Grafana's time macros and date_bin work on, exact to the millisecond a record
-- carries. Partitioned by month (the sink creates the current month and a few ahead, and keeps
-- doing so); a reading outside every month partition (a device clock years off, or history older
-- than the partitions) lands in readings_default, still stored and answered, and a later month
-- partition takes its rows over when it is created.
CREATE TABLE readings (
  device   text NOT NULL,
  sensor   text NOT NULL,
  metric   text NOT NULL,
  ts       timestamptz NOT NULL,
  value    double precision,
  unit     text NOT NULL,
  quality  double precision NOT NULL,
  flags    text[] NOT NULL DEFAULT '{}',
  seq      bigint NOT NULL,
  batch    bigint NOT NULL,
  -- A unique index on a partitioned table must hold the partition key (ts). seq alone is unique
  -- per device (the chain check stores a batch once), so this key is what guards a record stored
  -- twice; it leads with the series so that the same index answers "one sensor over a range", and
  -- carries the value so that the range query never visits the table (index-only scans).
  PRIMARY KEY (device, sensor, metric, ts, seq) INCLUDE (value)
) PARTITION BY RANGE (ts);

CREATE TABLE readings_default PARTITION OF readings DEFAULT;

-- The latest reading per series, upserted with each batch: "latest per sensor" is one index range
-- however many months of readings are held, and the series catalogue besides.
CREATE TABLE readings_latest (
  device   text NOT NULL,
  sensor   text NOT NULL,
  metric   text NOT NULL,
  ts       timestamptz NOT NULL,
  value    double precision,
  unit     text NOT NULL,
  quality  double precision NOT NULL,
  flags    text[] NOT NULL DEFAULT '{}',
  seq      bigint NOT NULL,
  PRIMARY KEY (device, sensor, metric)
);

-- Batches stored before this table existed: their readings, parsed from the stored lines. They
-- land in readings_default; the partition upkeep moves each recent month into its own partition.
INSERT INTO readings (device, sensor, metric, ts, value, unit, quality, flags, seq, batch)
SELECT b.device, r->>'sensor', r->>'metric', timestamptz 'epoch' + (r->>'ts')::bigint * interval '1 millisecond',
       (r->>'value')::double precision, r->>'unit', coalesce((r->'quality'->>'score')::double precision, 0),
       coalesce(ARRAY(SELECT jsonb_array_elements_text(r->'quality'->'flags')), '{}'), (r->>'seq')::bigint, b.batch
FROM sink_batches b, LATERAL (SELECT line::jsonb AS r FROM regexp_split_to_table(b.records, E'\n') AS line) AS lines
WHERE b.records IS NOT NULL AND b.records <> '' AND r->>'kind' = 'reading'
  AND r->>'sensor' ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' AND r->>'metric' ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'
  AND (r->>'ts')::bigint >= 0
ON CONFLICT DO NOTHING;

INSERT INTO readings_latest (device, sensor, metric, ts, value, unit, quality, flags, seq)
SELECT DISTINCT ON (device, sensor, metric) device, sensor, metric, ts, value, unit, quality, flags, seq
FROM readings ORDER BY device, sensor, metric, ts DESC, seq DESC;

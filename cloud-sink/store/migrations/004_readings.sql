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

-- Whether batches are held whose readings are not in the table yet: those stored before this table
-- existed, or while the sink ran with the readings index off. The sink fills them in at start
-- (cloud-sink/readings/pg-backfill.ts) and clears the flag.
CREATE TABLE readings_backfill (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  needed  boolean NOT NULL
);
INSERT INTO readings_backfill (needed) SELECT EXISTS (SELECT 1 FROM sink_batches WHERE records IS NOT NULL);

-- Each batch's readings summed per series and UTC hour (non-null values only): a series over a
-- long range in whole-hour steps reads these, one row per hour and batch, instead of every reading.
-- Keyed by batch, so that writing a batch's sums again (a fill-in) changes nothing.
CREATE TABLE readings_hourly (
  device  text NOT NULL,
  sensor  text NOT NULL,
  metric  text NOT NULL,
  hour    timestamptz NOT NULL,
  batch   bigint NOT NULL,
  n       integer NOT NULL,
  sum     double precision NOT NULL,
  min     double precision NOT NULL,
  max     double precision NOT NULL,
  PRIMARY KEY (device, sensor, metric, hour, batch)
);

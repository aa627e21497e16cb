-- The MRV report engine's index of the monitoring plans' register readings (derived from the
-- stored batches; cloud-sink/mrv/), and the operators' notes on meter events (kept with the data).
CREATE TABLE sink_mrv_progress (
  device  text PRIMARY KEY,
  batch   bigint NOT NULL,
  state   text NOT NULL
);

CREATE TABLE sink_mrv_chunks (
  device  text NOT NULL,
  sensor  text NOT NULL,
  metric  text NOT NULL,
  chunk   integer NOT NULL,
  min_ts  bigint NOT NULL,
  max_ts  bigint NOT NULL,
  count   integer NOT NULL,
  summary text NOT NULL,
  data    bytea NOT NULL,
  PRIMARY KEY (device, sensor, metric, chunk)
);

CREATE TABLE sink_mrv_plans (
  device  text NOT NULL,
  seq     bigint NOT NULL,
  record  text NOT NULL,
  PRIMARY KEY (device, seq)
);

CREATE TABLE sink_mrv_gaps (
  device   text NOT NULL,
  seq      bigint NOT NULL,
  from_ts  bigint NOT NULL,
  to_ts    bigint NOT NULL,
  dropped  bigint NOT NULL,
  reason   text NOT NULL,
  PRIMARY KEY (device, seq)
);

CREATE TABLE sink_mrv_pruned (
  device    text NOT NULL,
  batch     bigint NOT NULL,
  entry     text NOT NULL,
  PRIMARY KEY (device, batch)
);

CREATE TABLE sink_mrv_unplanned (
  device  text NOT NULL,
  sensor  text NOT NULL,
  day     bigint NOT NULL,
  count   bigint NOT NULL,
  min_ts  bigint NOT NULL,
  max_ts  bigint NOT NULL,
  PRIMARY KEY (device, sensor, day)
);

CREATE TABLE sink_mrv_notes (
  device  text NOT NULL,
  id      text NOT NULL,
  note    text NOT NULL,
  at      bigint NOT NULL,
  PRIMARY KEY (device, id)
);

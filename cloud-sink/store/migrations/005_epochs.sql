-- Recovery epochs: a device that lost its journal starts a new chain (epoch 2, 3, ...) whose batch
-- numbers and seqs count from 1 again, so a batch is (device, epoch, batch). Rows from before are
-- of epoch 1. A restart waits in sink_restarts until an admin accepts it.
ALTER TABLE sink_heads ADD COLUMN epoch integer NOT NULL DEFAULT 1;

ALTER TABLE sink_batches ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE sink_batches DROP CONSTRAINT sink_batches_pkey;
ALTER TABLE sink_batches ADD PRIMARY KEY (device, epoch, batch);
DROP INDEX sink_batches_seq;
CREATE UNIQUE INDEX sink_batches_seq ON sink_batches (device, epoch, first_seq);

-- One report per conflicting pair: the same conflicting batch offered again adds nothing.
ALTER TABLE sink_equivocations ADD COLUMN epoch integer NOT NULL DEFAULT 1;
DELETE FROM sink_equivocations e USING sink_equivocations f
  WHERE e.device = f.device AND e.epoch = f.epoch AND e.batch = f.batch AND e.offered_hash = f.offered_hash AND e.id > f.id;
CREATE UNIQUE INDEX sink_equivocations_pair ON sink_equivocations (device, epoch, batch, offered_hash);

CREATE TABLE sink_restarts (
  device       text NOT NULL,
  epoch        integer NOT NULL,
  reason       text NOT NULL,
  from_epoch   integer NOT NULL,
  from_batch   bigint NOT NULL,
  from_hash    text NOT NULL,
  ts           bigint NOT NULL,
  rejournaled  bigint NOT NULL,
  header       text NOT NULL,
  seen_at      bigint NOT NULL,
  accepted_at  bigint,
  PRIMARY KEY (device, epoch)
);

-- The readings table (004) keys a reading by its seq and a batch's hourly sums by its number; both
-- start again in each epoch, so each carries its epoch too and it joins their keys.
ALTER TABLE readings ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
ALTER TABLE readings ADD PRIMARY KEY (device, sensor, metric, ts, seq, epoch) INCLUDE (value);
ALTER TABLE readings_hourly ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE readings_hourly DROP CONSTRAINT readings_hourly_pkey;
ALTER TABLE readings_hourly ADD PRIMARY KEY (device, sensor, metric, hour, batch, epoch);

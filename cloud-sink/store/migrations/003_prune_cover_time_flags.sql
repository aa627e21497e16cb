-- A pruned batch keeps the device's signed gap record that names it (its cover, JSON), and a
-- batch whose device clock looked wrong on arrival keeps what was seen (JSON list of flags).
ALTER TABLE sink_batches ADD COLUMN prune_cover text;
ALTER TABLE sink_batches ADD COLUMN time_flags text;
CREATE INDEX sink_batches_time_flags ON sink_batches (device) WHERE time_flags IS NOT NULL;
-- A device's key changes made through the sink (rotations, revocations), JSON.
ALTER TABLE sink_devices ADD COLUMN changes text;

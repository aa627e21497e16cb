-- The MRV index across recovery epochs: seqs and batch numbers start again in each epoch, so the
-- plans, gap records and pruned batches it places are keyed by (epoch, seq) or (epoch, batch), and
-- its progress names the epoch it is reading. Rows from before are of epoch 1.
ALTER TABLE sink_mrv_progress ADD COLUMN epoch integer NOT NULL DEFAULT 1;

ALTER TABLE sink_mrv_plans ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE sink_mrv_plans DROP CONSTRAINT sink_mrv_plans_pkey;
ALTER TABLE sink_mrv_plans ADD PRIMARY KEY (device, epoch, seq);

ALTER TABLE sink_mrv_gaps ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE sink_mrv_gaps DROP CONSTRAINT sink_mrv_gaps_pkey;
ALTER TABLE sink_mrv_gaps ADD PRIMARY KEY (device, epoch, seq);

ALTER TABLE sink_mrv_pruned ADD COLUMN epoch integer NOT NULL DEFAULT 1;
ALTER TABLE sink_mrv_pruned DROP CONSTRAINT sink_mrv_pruned_pkey;
ALTER TABLE sink_mrv_pruned ADD PRIMARY KEY (device, epoch, batch);

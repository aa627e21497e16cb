-- The sink's tables. A batch is one row: header, canonical record lines, anchor membership.
CREATE TABLE sink_devices (
  id        text PRIMARY KEY,
  key       text NOT NULL,
  added_at  bigint NOT NULL
);

-- One row per device: the last batch held, locked FOR UPDATE while a batch is checked and stored,
-- which serialises the chain check across sink processes.
CREATE TABLE sink_heads (
  device    text PRIMARY KEY,
  batch     bigint NOT NULL,
  hash      text NOT NULL,
  last_seq  bigint NOT NULL
);

CREATE TABLE sink_batches (
  device        text NOT NULL,
  batch         bigint NOT NULL,
  first_seq     bigint NOT NULL,
  last_seq      bigint NOT NULL,
  hash          text NOT NULL,
  header        text NOT NULL,
  records       text,
  pruned        boolean NOT NULL,
  min_ts        bigint,
  max_ts        bigint,
  received_at   bigint NOT NULL,
  accept_id     bigserial NOT NULL,
  anchor_id     bigint,
  anchor_index  integer,
  PRIMARY KEY (device, batch)
);
CREATE UNIQUE INDEX sink_batches_seq ON sink_batches (device, first_seq);
CREATE INDEX sink_batches_unanchored ON sink_batches (accept_id) WHERE anchor_id IS NULL;
CREATE INDEX sink_batches_anchor ON sink_batches (anchor_id, anchor_index) WHERE anchor_id IS NOT NULL;
CREATE INDEX sink_batches_time ON sink_batches (device, min_ts, max_ts);

CREATE TABLE sink_anchors (
  id          bigserial PRIMARY KEY,
  root        text NOT NULL,
  size        integer NOT NULL,
  first_ts    bigint NOT NULL,
  last_ts     bigint NOT NULL,
  created_at  bigint NOT NULL,
  state       text NOT NULL CHECK (state IN ('pending', 'submitted', 'committed')),
  chain       text,
  module      text,
  sender      text,
  tx          text,
  version     bigint,
  detail      jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE sink_equivocations (
  id              bigserial PRIMARY KEY,
  device          text NOT NULL,
  batch           bigint NOT NULL,
  stored_hash     text NOT NULL,
  offered_hash    text NOT NULL,
  offered_header  text NOT NULL,
  reported_at     bigint NOT NULL
);

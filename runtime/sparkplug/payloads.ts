// Journal records as Sparkplug B metrics, and the payloads of the edge node's messages. Pure: no
// I/O, no state beyond what is passed in. The encoding is Eclipse Tahu's (sparkplug-payload).
//
// One Sparkplug device per reading `sensor` (a LoRa node, a meter, a CO2 sensor); one metric per
// reading `metric`, Double, with its unit as the `engUnit` property in the birth. A reading's
// `state` text is a String metric `<metric>_state` beside it. Every data metric carries its quality
// (`quality` score, `qualityFlags`, and an OPC-style `Quality` code) and the journal seq of its
// signed record (`journalSeq`), which links it to a proof and lets a consumer drop a repeat.
import sparkplug from 'sparkplug-payload';
import type { UMetric, UPayload, UPropertyValue } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { GapRecord, ReadingRecord } from '../../protocol/records.ts';

export type { UMetric, UPayload };
const codec = sparkplug.get('spBv1.0')!;

export const encodePayload = (p: UPayload): Uint8Array => codec.encodePayload(p);
export const decodePayload = (b: Uint8Array): UPayload => codec.decodePayload(b);

export const REBIRTH = 'Node Control/Rebirth';
export const BD_SEQ = 'bdSeq';
export const DROPPED = 'Journal/Dropped';

/** OPC DA quality codes, which SCADA systems (Ignition among them) read from a `Quality` property. */
const GOOD = 192;
const UNCERTAIN = 64;
const BAD = 0;

/** The metric names a reading fills: its value, and its state text when it has one. */
export function stateMetricName(metric: string): string {
  return `${metric}_state`;
}

function qualityProperties(r: ReadingRecord): Record<string, UPropertyValue> {
  const code = r.value === null ? BAD : r.quality.flags.length > 0 ? UNCERTAIN : GOOD;
  return {
    Quality: { type: 'Int32', value: code },
    quality: { type: 'Double', value: r.quality.score },
    qualityFlags: { type: 'String', value: r.quality.flags.join(',') },
    journalSeq: { type: 'UInt64', value: r.seq },
  };
}

/** The metrics of one reading in a DDATA (or, with `birth`, in a DBIRTH: with its unit). */
export function readingMetrics(r: ReadingRecord, opts: { historical: boolean; birth?: boolean }): UMetric[] {
  const props = qualityProperties(r);
  const value: UMetric = {
    name: r.metric,
    type: 'Double',
    value: r.value,
    timestamp: r.ts,
    properties: opts.birth ? { engUnit: { type: 'String', value: r.unit }, ...props } : props,
  };
  if (opts.historical) value.isHistorical = true;
  if (r.state === undefined) return [value];
  const state: UMetric = { name: stateMetricName(r.metric), type: 'String', value: r.state, timestamp: r.ts, properties: props };
  if (opts.historical) state.isHistorical = true;
  return [value, state];
}

/** A gap record as the node's `Journal/Dropped` metric: how many readings, why, and since when. */
export function gapMetric(g: GapRecord, historical: boolean): UMetric {
  const m: UMetric = {
    name: DROPPED,
    type: 'Int64',
    value: g.dropped,
    timestamp: g.to,
    properties: {
      reason: { type: 'String', value: g.reason },
      from: { type: 'DateTime', value: g.from },
      journalSeq: { type: 'UInt64', value: g.seq },
    },
  };
  if (historical) m.isHistorical = true;
  return m;
}

export function bdSeqMetric(bdSeq: number, now: number): UMetric {
  return { name: BD_SEQ, type: 'UInt64', value: bdSeq, timestamp: now };
}

/** NBIRTH: bdSeq, the rebirth control, and the node's own metrics. Its seq is always 0. */
export function nodeBirth(bdSeq: number, now: number): UPayload {
  return {
    timestamp: now,
    seq: 0,
    metrics: [
      bdSeqMetric(bdSeq, now),
      { name: REBIRTH, type: 'Boolean', value: false, timestamp: now },
      { name: DROPPED, type: 'Int64', value: 0, timestamp: now, properties: { engUnit: { type: 'String', value: 'readings' } } },
    ],
  };
}

/** NDEATH, registered as the MQTT will: only the bdSeq of the session it ends, and no seq. */
export function nodeDeath(bdSeq: number, now: number): UPayload {
  return { timestamp: now, metrics: [bdSeqMetric(bdSeq, now)] };
}

/** Whether an NCMD asks for a rebirth (`Node Control/Rebirth` = true). */
export function asksRebirth(p: UPayload): boolean {
  return (p.metrics ?? []).some((m) => m.name === REBIRTH && m.value === true);
}

// Journal records as JSON telemetry: each record as the journal holds it, with `id` (device:seq,
// the same on every send, so that a consumer drops a repeat) and `historical: true` when it comes
// from the backlog rather than live. Several records to one topic go in one message as a JSON
// array, within the platform's size limit and `maxReadingsPerMessage`.
import type { JournalRecord } from '../../protocol/records.ts';

export interface TelemetryMessage {
  topic: string;
  payload: string;
  /** the records it carries, in seq order */
  records: JournalRecord[];
}

export interface Batching {
  maxBytes: number;
  maxRecords: number;
  /** the topic for a record; an Error when it has none it may use (too long) */
  topicOf(record: JournalRecord): string | Error;
}

export interface Refused {
  record: JournalRecord;
  reason: 'too_large' | 'topic_too_long';
}

/** One record as sent. */
export function telemetryItem(record: JournalRecord, historical: boolean): string {
  return JSON.stringify({ id: `${record.device}:${record.seq}`, ...record, ...(historical ? { historical: true } : {}) });
}

/**
 * Messages for `records` (in seq order): grouped by topic, each a JSON array of at most
 * `maxRecords` items and `maxBytes` bytes, records in seq order within a topic. A record whose own
 * item is over the limit, or whose topic is refused, is returned in `refused`.
 */
export function toMessages(records: readonly JournalRecord[], historical: boolean, b: Batching): { messages: TelemetryMessage[]; refused: Refused[] } {
  const open = new Map<string, { items: string[]; bytes: number; records: JournalRecord[] }>();
  const messages: TelemetryMessage[] = [];
  const refused: Refused[] = [];
  const close = (topic: string) => {
    const m = open.get(topic);
    if (!m) return;
    open.delete(topic);
    messages.push({ topic, payload: `[${m.items.join(',')}]`, records: m.records });
  };
  for (const record of records) {
    const topic = b.topicOf(record);
    if (topic instanceof Error) {
      refused.push({ record, reason: 'topic_too_long' });
      continue;
    }
    const item = telemetryItem(record, historical);
    const bytes = Buffer.byteLength(item);
    // "[" + item + "]"
    if (bytes + 2 > b.maxBytes) {
      refused.push({ record, reason: 'too_large' });
      continue;
    }
    let m = open.get(topic);
    // "," + item, and the closing "]" already counted
    if (m && (m.records.length >= b.maxRecords || m.bytes + 1 + bytes > b.maxBytes)) {
      close(topic);
      m = undefined;
    }
    if (!m) open.set(topic, (m = { items: [], bytes: 2 - 1, records: [] }));
    m.items.push(item);
    m.bytes += 1 + bytes;
    m.records.push(record);
  }
  for (const topic of [...open.keys()]) close(topic);
  return { messages, refused };
}

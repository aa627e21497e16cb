// The Sparkplug publisher's cursor (sparkplug.json in the data dir): which journal records the
// broker has, and beside it the bdSeq of the last MQTT session, which counts across restarts.
import { join } from 'node:path';
import { PublishedCursor } from '../mqtt/published-cursor.ts';

export class SparkplugCursor extends PublishedCursor {
  /** the bdSeq of the last MQTT session; -1 before any */
  bdSeq = -1;

  constructor(dataDir: string) {
    super(join(dataDir, 'sparkplug.json'), 'Sparkplug');
  }

  protected override extra(): Record<string, unknown> {
    return { bdSeq: this.bdSeq };
  }

  protected override restore(saved: Record<string, unknown>): boolean {
    if (!Number.isInteger(saved.bdSeq)) return false;
    this.bdSeq = saved.bdSeq as number;
    return true;
  }

  /** Sets the bdSeq of a new session and saves at once: its NDEATH is the will of that session. */
  nextBdSeq(): number {
    this.bdSeq = (this.bdSeq + 1) % 256;
    this.dirty = true;
    this.save();
    return this.bdSeq;
  }
}

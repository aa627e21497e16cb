import type { StatusBoard } from './component.ts';

/** Facts that parts of the daemon publish for the others (last sync, alerts, anchors). */
export class MapStatusBoard implements StatusBoard {
  private readonly values = new Map<string, unknown>();
  private readonly listeners: ((key: string, value: unknown) => void)[] = [];

  set(key: string, value: unknown): void {
    this.values.set(key, value);
    for (const l of this.listeners) l(key, value);
  }

  get(key: string): unknown {
    return this.values.get(key);
  }

  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.values);
  }

  onChange(listener: (key: string, value: unknown) => void): void {
    this.listeners.push(listener);
  }
}

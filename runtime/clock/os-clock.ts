// What the OS says of the device clock, asked of whichever time daemon is present: chrony
// (`chronyc -c tracking`) or systemd-timesyncd (`timedatectl show -p NTPSynchronized --value`).
// Each is a subprocess with a bounded run time and output; a daemon that is absent, hangs or
// answers nonsense counts as not answering, and when neither answers the clock is "unknown",
// not synchronised: a batch never claims a sync nobody reported.
import { execFile } from 'node:child_process';
import type { ClockState } from '../../protocol/batch.ts';

export interface OsClockOptions {
  /** how long one subprocess may run before it is killed, ms */
  timeoutMs: number;
  /** the environment the subprocesses see (PATH decides which chronyc and timedatectl run) */
  env?: NodeJS.ProcessEnv;
}

const MAX_OUTPUT_BYTES = 16 * 1024;

/** stdout of `file args`, or null when it is missing, fails, times out or says too much. */
function run(file: string, args: string[], opts: OsClockOptions): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, env: opts.env ?? process.env, windowsHide: true }, (err, stdout) => {
      resolve(err ? null : String(stdout));
    });
  });
}

/**
 * `chronyc -c tracking`: one CSV line, 14 fields; the 5th is the system clock's correction in
 * seconds (positive: the clock is slow of NTP time), the 14th the leap status, "Not synchronised"
 * while chronyd has no usable source. Null when the line is not one chronyc writes.
 */
export function parseChronyTracking(text: string): ClockState | null {
  const fields = text.trim().split('\n')[0]?.split(',') ?? [];
  if (fields.length < 14) return null;
  const stratum = Number(fields[2]);
  const correction = Number(fields[4]);
  const leap = fields[13]!.trim();
  if (!Number.isInteger(stratum) || !Number.isFinite(correction)) return null;
  const synced = leap !== 'Not synchronised' && stratum > 0 && stratum < 16 && !/^0+$/.test(fields[0]!);
  // Rounded to the microsecond chrony reports; the device clock is ahead when the correction is negative.
  const offsetMs = Math.round(-correction * 1e6) / 1e3;
  return { synced, source: 'chrony', offsetMs: offsetMs === 0 ? 0 : offsetMs };
}

/** `timedatectl show -p NTPSynchronized --value`: "yes" or "no". timesyncd reports no offset there. */
export function parseTimedatectl(text: string): ClockState | null {
  const v = text.trim();
  if (v !== 'yes' && v !== 'no') return null;
  return { synced: v === 'yes', source: 'timesyncd' };
}

/** Ask chrony, then timesyncd; "unknown" and not synchronised when neither answers. */
export async function readOsClock(opts: OsClockOptions): Promise<ClockState> {
  const chrony = await run('chronyc', ['-c', 'tracking'], opts);
  const fromChrony = chrony === null ? null : parseChronyTracking(chrony);
  if (fromChrony) return fromChrony;
  const timedatectl = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], opts);
  const fromTimesyncd = timedatectl === null ? null : parseTimedatectl(timedatectl);
  return fromTimesyncd ?? { synced: false, source: 'unknown' };
}

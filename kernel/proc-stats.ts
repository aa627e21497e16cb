// What a process has used so far, read from /proc (Linux): for the benches, which measure the
// sink and the device as processes of their own.
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusKb(pid: number, field: string): number | null {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

/** The process's peak resident memory so far, in MiB. */
export function peakRssMb(pid: number): number {
  return mb(statusKb(pid, 'VmHWM') ?? statusKb(pid, 'VmRSS') ?? 0);
}

/** The process's resident memory now, in MiB. */
export function rssMb(pid: number): number {
  return mb(statusKb(pid, 'VmRSS') ?? 0);
}

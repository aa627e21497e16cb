// Who owns what under the snap. The hooks run as root; the daemon runs as snap_daemon (or root when
// a serial driver needs it, see snap-options.ts). Under the snap's confinement root has no
// CAP_DAC_OVERRIDE, so root too is held to file modes: everything the daemon owns keeps group
// root, with group read, so that the hooks (and the daemon's wrapper, which hands the data folder
// over at each start) can still see into it.
//
//   $SNAP_COMMON/data/            daemon user : root  2750 (setgid: what the daemon creates stays group root)
//   $SNAP_COMMON/data/device.key  daemon user : root  0600 (the daemon's alone; it tightens looser modes itself)
//   $SNAP_DATA/device.yaml        root : snap_daemon  0640 (the daemon reads it, only the hook writes it)
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import type { DaemonUser } from './snap-options.ts';

/** snapd's fixed uid and gid for the snap_daemon system user (`system-usernames` in snapcraft.yaml) */
export const SNAP_DAEMON_ID = 584788;

export function uidOf(user: DaemonUser): number {
  return user === 'root' ? 0 : SNAP_DAEMON_ID;
}

/** Only root can give a file away; run by anyone else (a test as an ordinary user) modes are set, owners left. */
function chownIfRoot(path: string, uid: number, gid: number): void {
  if (process.getuid?.() === 0) chownSync(path, uid, gid);
}

/**
 * The data folder, when it is not there yet, owned by the daemon user with group root. One that
 * exists is left alone: the daemon may be writing in it, and its wrapper hands the whole folder to
 * the user it runs the daemon as at each start, when nothing else is.
 */
export function makeDataDir(dir: string, user: DaemonUser): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o2750 });
  chownIfRoot(dir, uidOf(user), 0);
  // after chown, which may clear the setgid bit, and past the umask
  chmodSync(dir, 0o2750);
}

/** A file the daemon must own and nobody else read (its private key). */
export function giveToDaemon(file: string, user: DaemonUser): void {
  chownIfRoot(file, uidOf(user), 0);
  chmodSync(file, 0o600);
}

/** A file only the hook writes and the daemon reads (its config, which may hold tokens). */
export function shareWithDaemon(file: string): void {
  chownIfRoot(file, 0, SNAP_DAEMON_ID);
  chmodSync(file, 0o640);
}

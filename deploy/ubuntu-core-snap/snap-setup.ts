// What the snap's install and configure hooks do. snapd runs the hooks as root with $SNAP,
// $SNAP_DATA and $SNAP_COMMON set and `snapctl` on PATH; a non-zero exit from configure makes
// `snap set` fail and roll the change back, so every refusal is one line on stderr and exit 1.
//
//   install    make the data folder and the device key, owned by snap_daemon, pick a default
//              device name
//   configure  read the options, validate them as the daemon would, write device.yaml (readable
//              by snap_daemon) and the user the daemon runs as, and restart the daemon if either
//              changed and it is running
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../kernel/atomic-file.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadDeviceConfig } from '../../app/config/device-config.ts';
import { UserError } from '../../kernel/user-error.ts';
import { loadOrCreateKey } from '../../runtime/device-key.ts';
import { giveToDaemon, makeDataDir, shareWithDaemon } from './ownership.ts';
import { defaultDeviceName, optionNames, serialPortsOf, settingsFromOptions, SnapOptionError } from './snap-options.ts';

export interface SnapEnv {
  /** the snap's instance name (fieldproof, or fieldproof_x for a parallel install) */
  instance: string;
  /** per-revision, backed up and rolled back with the snap: the config */
  snapData: string;
  /** shared by all revisions, never copied on refresh: the key and the journal */
  snapCommon: string;
}

export const CONFIG_FILE = 'device.yaml';
export const LOG_LEVEL_FILE = 'log-level';
/** who the wrappers run the daemon (and the CLI's data verbs) as: snap_daemon or root */
export const DAEMON_USER_FILE = 'daemon-user';

export function snapEnv(env: NodeJS.ProcessEnv = process.env): SnapEnv {
  const { SNAP_DATA, SNAP_COMMON } = env;
  const instance = env.SNAP_INSTANCE_NAME ?? env.SNAP_NAME;
  if (!SNAP_DATA || !SNAP_COMMON || !instance) throw new UserError('not running as a snap hook: SNAP_DATA, SNAP_COMMON and SNAP_NAME must be set');
  return { instance, snapData: SNAP_DATA, snapCommon: SNAP_COMMON };
}

export function dataDirOf(env: SnapEnv): string {
  return join(env.snapCommon, 'data');
}

function snapctl(args: string[]): string {
  try {
    return execFileSync('snapctl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new UserError(`snapctl ${args.join(' ')} failed: ${(e.stderr || e.message).trim().split('\n')[0]}`);
  }
}

export class SnapSetup {
  private readonly env: SnapEnv;
  private readonly out: (line: string) => void;

  constructor(
    env: SnapEnv,
    out: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {
    this.env = env;
    this.out = out;
  }

  install(): void {
    const dataDir = dataDirOf(this.env);
    // snap_daemon until the configure hook knows better; the daemon's wrapper hands the folder to
    // whichever user it runs the daemon as
    makeDataDir(dataDir, 'snap_daemon');
    const { key, created } = loadOrCreateKey(dataDir);
    giveToDaemon(join(dataDir, 'device.key'), 'snap_daemon');
    this.out(`${created ? 'created' : 'kept'} device key ${key.public}`);
    if (snapctl(['get', 'device']).trim() === '') {
      const name = defaultDeviceName(hostname());
      snapctl(['set', `device=${name}`]);
      this.out(`device name ${name} (change it with: snap set ${this.env.instance} device=NAME)`);
    }
  }

  /** Returns true when device.yaml changed. */
  configure(): boolean {
    const names = optionNames();
    const text = snapctl(['get', '-d', '-t', ...names]);
    let options: Record<string, unknown>;
    try {
      options = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UserError(`snapctl get printed something that is not JSON: ${text.slice(0, 80)}`);
    }
    const dataDir = dataDirOf(this.env);
    const settings = settingsFromOptions(options, dataDir);

    const file = join(this.env.snapData, CONFIG_FILE);
    const yaml = `# Written by the snap's configure hook from the snap options; change it with
# snap set ${this.env.instance} KEY=VALUE (snap get -d ${this.env.instance} shows them all).
${stringify(settings.config)}`;
    let changed = this.writeIfChanged(file, yaml, 0o600, (tmp) => {
      // Read the file back through the daemon's own loader: what passes here, the daemon accepts.
      loadDeviceConfig(tmp);
    });
    // the daemon reads it as snap_daemon; it may hold the page's token, so nobody else does
    shareWithDaemon(file);
    changed = this.writeIfChanged(join(this.env.snapData, LOG_LEVEL_FILE), settings.logLevel + '\n', 0o644) || changed;
    changed = this.writeIfChanged(join(this.env.snapData, DAEMON_USER_FILE), settings.daemonUser + '\n', 0o644) || changed;
    makeDataDir(dataDir, settings.daemonUser);
    if (settings.daemonUser === 'root') {
      const ports = serialPortsOf(settings.config);
      this.out(ports.length > 0
        ? `the daemon runs as root: ${ports.join(', ')} cannot be opened by snap_daemon`
        : 'the daemon runs as root (daemon-user=root)');
    }

    if (changed) {
      const service = `${this.env.instance}.daemon`;
      // At install the hook runs before services start: there is nothing to restart yet.
      if (this.serviceActive(service)) {
        snapctl(['restart', service]);
        this.out(`configuration changed; restarted ${service}`);
      } else {
        this.out('configuration written');
      }
    } else {
      this.out('configuration unchanged');
    }
    return changed;
  }

  private serviceActive(service: string): boolean {
    const table = snapctl(['services', service]);
    // Service  Startup  Current  Notes
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[0] === service) return cols[2] === 'active';
    }
    return false;
  }

  private writeIfChanged(file: string, content: string, mode: number, check?: (tmp: string) => void): boolean {
    let current: string | null = null;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = null;
    }
    if (current === content) return false;
    writeFileAtomic(file, content, { mode, ...(check ? { check } : {}) });
    return true;
  }
}

/** The hooks' entry point: returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [action] = argv;
  try {
    const setup = new SnapSetup(snapEnv());
    if (action === 'install') setup.install();
    else if (action === 'configure') setup.configure();
    else throw new UserError(`unknown action ${JSON.stringify(action)}; one of: install, configure`);
    return 0;
  } catch (err) {
    if (err instanceof UserError || err instanceof SnapOptionError) {
      process.stderr.write(`fieldproof ${action ?? ''}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`fieldproof ${action ?? ''}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 70;
  }
}

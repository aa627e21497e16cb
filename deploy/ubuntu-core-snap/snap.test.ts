// The snap's packaging: snapcraft.yaml against snapcraft's JSON Schema, and the hooks and the
// daemon wrapper run as snapd runs them: from a snap-shaped folder ($SNAP/bin/node,
// $SNAP/lib/fieldproof), with $SNAP_DATA and $SNAP_COMMON, and a stand-in snapctl
// first on PATH.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { loadDeviceConfig } from '../../app/config/device-config.ts';
import { freeTcpPort as freePort } from '../../kernel/net.ts';

const HERE = import.meta.dirname;
const ROOT = resolve(HERE, '../..');
const SCHEMA = join(HERE, 'testdata/snapcraft.schema.json');
/** snapd's uid and gid for snap_daemon */
const SNAP_DAEMON = 584788;
/** Only root can drop to snap_daemon and hand files to it; run as anyone else, those checks are skipped. */
const AS_ROOT = process.getuid?.() === 0;
const SNAPCRAFT = parse(readFileSync(join(ROOT, 'snapcraft.yaml'), 'utf8')) as Record<string, any>;

describe('snapcraft.yaml', () => {
  // a parsed YAML document, checked field by field
  const doc = parse(readFileSync(join(ROOT, 'snapcraft.yaml'), 'utf8')) as Record<string, any>;

  it('validates against the snapcraft JSON Schema (draft 2020-12)', { skip: existsSync(SCHEMA) ? false : 'testdata/snapcraft.schema.json is not there' }, () => {
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
    assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 5)));
    // The schema has teeth: a wrong value fails it.
    assert.equal(validate({ ...doc, confinement: 'loose' }), false);
    assert.equal(validate({ ...doc, apps: { ...doc.apps, daemon: { ...doc.apps.daemon, 'restart-condition': 'sometimes' } } }), false);
  });

  it('runs the daemon as a strict core24 service that always restarts, with the plugs it needs and no more', () => {
    assert.equal(doc.base, 'core24');
    assert.equal(doc.confinement, 'strict');
    assert.equal(doc.apps.daemon.daemon, 'simple');
    assert.equal(doc.apps.daemon['restart-condition'], 'always');
    // no process-control: it would let the daemon signal and reprioritise any process on the device
    assert.deepEqual(doc.apps.daemon.plugs, ['network', 'network-bind', 'serial-port']);
    assert.ok(Object.values(doc.apps as Record<string, { plugs?: string[] }>).every((a) => !a.plugs?.includes('process-control')));
    assert.equal(doc.parts.fieldproof.plugin, 'npm');
    assert.equal(doc.parts.fieldproof['npm-include-node'], true);
    assert.equal(doc.parts.fieldproof['npm-node-version'], '24');
  });

  it('moves the app out of node_modules, where Node would not strip its types', () => {
    const build = doc.parts.fieldproof['override-build'] as string;
    assert.match(build, /^craftctl default$/m);
    assert.match(build, /^mv "\$CRAFT_PART_INSTALL\/lib\/node_modules\/fieldproof" "\$CRAFT_PART_INSTALL\/lib\/fieldproof"$/m);
    for (const file of ['hooks/install', 'hooks/configure', 'wrappers/fieldproof-daemon', 'wrappers/fieldproof-cli']) {
      const text = readFileSync(join(HERE, file), 'utf8');
      assert.ok(text.includes('$SNAP/lib/fieldproof') && !text.includes('node_modules'), file);
    }
  });

  it('has snapd make the snap_daemon user, and ships the setpriv the wrapper drops to it with', () => {
    assert.deepEqual(doc['system-usernames'], { snap_daemon: 'shared' });
    assert.ok(doc.parts.setpriv['stage-packages'].includes('util-linux'));
    assert.ok(doc.parts.setpriv.stage.includes('usr/bin/setpriv'));
  });

  it('ships every hook and wrapper it names, executable', () => {
    const glue = doc.parts['snap-glue'];
    for (const [from, to] of Object.entries(glue.organize as Record<string, string>)) {
      const file = join(ROOT, glue.source, from);
      accessSync(file, constants.X_OK);
      assert.ok((glue.stage as string[]).includes(to), `${to} is staged`);
    }
    for (const app of Object.values(doc.apps as Record<string, { command: string }>)) {
      assert.ok(Object.values(glue.organize).includes(app.command), `${app.command} comes from the glue part`);
    }
    // The npm plugin packs the project with npm pack: the hooks' code must be in package.json files.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const folder of ['bin', 'runtime', 'deploy']) assert.ok(pkg.files.includes(folder), folder);
  });
});

interface SnapWorld {
  dir: string;
  /** $SNAP */
  snap: string;
  env: NodeJS.ProcessEnv;
  snapData: string;
  snapCommon: string;
  state: string;
  log: string;
}

/** A snap-shaped folder around this checkout, and the stand-in snapctl. */
async function snapWorld(options: Record<string, unknown>, daemonState = 'inactive'): Promise<SnapWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-snap-'));
  // as on a device, where snap_daemon reaches $SNAP, $SNAP_DATA and $SNAP_COMMON
  chmodSync(dir, 0o755);
  const snap = join(dir, 'snap');
  mkdirSync(join(snap, 'bin'), { recursive: true });
  mkdirSync(join(snap, 'lib'), { recursive: true });
  symlinkSync(process.execPath, join(snap, 'bin/node'));
  symlinkSync(ROOT, join(snap, 'lib/fieldproof'));
  // the hooks and wrappers where snapcraft's organize puts them
  const glue = SNAPCRAFT.parts['snap-glue'];
  for (const [from, to] of Object.entries(glue.organize as Record<string, string>)) {
    mkdirSync(join(snap, to, '..'), { recursive: true });
    symlinkSync(join(ROOT, glue.source, from), join(snap, to));
  }
  const snapData = join(dir, 'var/snap/fieldproof/x1');
  const snapCommon = join(dir, 'var/snap/fieldproof/common');
  mkdirSync(snapData, { recursive: true });
  mkdirSync(snapCommon, { recursive: true });
  const stubBin = join(dir, 'stub-bin');
  mkdirSync(stubBin);
  writeFileSync(join(stubBin, 'snapctl'), `#!/bin/sh\nexec "${process.execPath}" "${join(HERE, 'testdata/snapctl.mjs')}" "$@"\n`, { mode: 0o755 });
  const state = join(dir, 'snapctl-state.json');
  const log = join(dir, 'snapctl.log');
  writeFileSync(state, JSON.stringify({ options, services: { 'fieldproof.daemon': daemonState } }));
  writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = {
    PATH: `${stubBin}:/usr/local/bin:/usr/bin:/bin`,
    HOME: dir,
    SNAP: snap,
    SNAP_NAME: 'fieldproof',
    SNAP_INSTANCE_NAME: 'fieldproof',
    SNAP_REVISION: 'x1',
    SNAP_DATA: snapData,
    SNAP_COMMON: snapCommon,
    SNAPCTL_STATE: state,
    SNAPCTL_LOG: log,
  };
  return { dir, snap, env, snapData, snapCommon, state, log };
}

/** Owner, group and mode bits of a path. */
function ownership(path: string): { uid: number; gid: number; mode: number } {
  const st = statSync(path);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

/** Every path under a folder, the folder included. */
function walk(dir: string): string[] {
  return [dir, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => join(dir, p))];
}

/** The ids and privileges a running process holds, from /proc/PID/status. */
function credentials(pid: number): { uid: number[]; gid: number[]; groups: string; noNewPrivs: string; capEff: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    gid: field('Gid').split(/\s+/).map(Number),
    groups: field('Groups'),
    noNewPrivs: field('NoNewPrivs'),
    capEff: field('CapEff'),
  };
}

function runHook(w: SnapWorld, hook: 'install' | 'configure') {
  const r = spawnSync('/bin/sh', [join(HERE, 'hooks', hook)], { env: w.env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function snapctlCalls(w: SnapWorld): string[][] {
  return readFileSync(w.log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
}

function setOptions(w: SnapWorld, options: Record<string, unknown>): void {
  const state = JSON.parse(readFileSync(w.state, 'utf8'));
  state.options = options;
  writeFileSync(w.state, JSON.stringify(state));
}

describe('install hook', () => {
  let w: SnapWorld;
  before(async () => {
    w = await snapWorld({});
  });
  after(() => rm(w.dir, { recursive: true, force: true }));

  it('makes the data folder and the key, for snap_daemon, and a default device name', () => {
    const r = runHook(w, 'install');
    assert.equal(r.code, 0, r.stderr);
    const data = join(w.snapCommon, 'data');
    // setgid, group root: what the daemon creates stays readable by the hooks, and by nobody else
    assert.equal(ownership(data).mode, 0o2750);
    assert.equal(ownership(join(data, 'device.key')).mode, 0o600);
    if (AS_ROOT) {
      assert.deepEqual([ownership(data).uid, ownership(data).gid], [SNAP_DAEMON, 0]);
      assert.deepEqual([ownership(join(data, 'device.key')).uid, ownership(join(data, 'device.key')).gid], [SNAP_DAEMON, 0]);
    }
    const key = JSON.parse(readFileSync(join(data, 'device.key'), 'utf8')).public as string;
    assert.match(r.stdout, new RegExp(`created device key ${key}`));
    const set = snapctlCalls(w).find((c) => c[0] === 'set');
    assert.ok(set, 'the hook set a device name');
    assert.match(set[1]!, /^device=[a-z0-9][a-z0-9._:-]*$/);
    // A second install (a re-run after a failed one) keeps the key.
    const again = runHook(w, 'install');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`kept device key ${key}`));
  });
});

describe('configure hook', () => {
  let w: SnapWorld;
  before(async () => {
    w = await snapWorld({}, 'active');
  });
  after(() => rm(w.dir, { recursive: true, force: true }));

  it('writes device.yaml from the options, the way the daemon reads it, and restarts the running daemon', () => {
    setOptions(w, {
      device: 'site-a-gw1',
      uplink: { url: 'https://sink.example.org' },
      batch: { 'max-records': 200, 'max-age-ms': 2000 },
      http: { listen: '0.0.0.0:8080', token: 'a-long-enough-token-123' },
      drivers: [{ kind: 'simulated', id: 'sim', sensors: 2, 'interval-ms': 1000 }],
      'log-level': 'debug',
    });
    const r = runHook(w, 'configure');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration changed; restarted fieldproof\.daemon/);
    const file = join(w.snapData, 'device.yaml');
    assert.equal(ownership(file).mode, 0o640, 'the file holds the token: the daemon\'s group reads it, nobody else');
    if (AS_ROOT) assert.deepEqual([ownership(file).uid, ownership(file).gid], [0, SNAP_DAEMON]);
    assert.equal(readFileSync(join(w.snapData, 'daemon-user'), 'utf8'), 'snap_daemon\n');
    const config = loadDeviceConfig(file);
    assert.equal(config.device, 'site-a-gw1');
    assert.equal(config.dataDir, join(w.snapCommon, 'data'));
    assert.equal(config.batch.maxRecords, 200);
    assert.equal(config.batch.maxAgeMs, 2000);
    assert.equal(config.uplink?.url, 'https://sink.example.org');
    assert.equal(config.http?.listen, '0.0.0.0:8080');
    assert.equal(config.drivers[0]?.kind, 'simulated');
    assert.equal((config.drivers[0] as { intervalMs: number }).intervalMs, 1000);
    assert.equal(readFileSync(join(w.snapData, 'log-level'), 'utf8'), 'debug\n');
    const calls = snapctlCalls(w);
    assert.deepEqual(calls[0]!.slice(0, 3), ['get', '-d', '-t']);
    assert.ok(calls[0]!.includes('device') && calls[0]!.includes('http') && calls[0]!.includes('log-level') && calls[0]!.includes('daemon-user'));
    assert.deepEqual(calls.at(-1), ['restart', 'fieldproof.daemon']);
  });

  it('leaves a running daemon alone when nothing changed', () => {
    writeFileSync(w.log, '');
    const r = runHook(w, 'configure');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration unchanged/);
    assert.ok(!snapctlCalls(w).some((c) => c[0] === 'restart'));
  });

  it('refuses a bad value with one line naming the option, and keeps the old file', () => {
    const before = readFileSync(join(w.snapData, 'device.yaml'), 'utf8');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ device: 'site-a-gw1', http: { listen: '0.0.0.0:8080' } }, /^fieldproof configure: http\.token: required when listen is not a loopback address/],
      [{ device: 'site-a-gw1', batch: { 'max-records': 'many' } }, /^fieldproof configure: batch\.max-records: /],
      [{ device: 'site-a-gw1', http: { 'listen-on': '127.0.0.1:1' } }, /^fieldproof configure: unknown option http\.listen-on$/m],
      [{ device: 'bad name!' }, /^fieldproof configure: device: must be 1-128 letters/],
      [{ device: 'site-a-gw1', 'log-level': 'loud' }, /^fieldproof configure: log-level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/m],
      [{ device: 'site-a-gw1', 'daemon-user': 'nobody' }, /^fieldproof configure: daemon-user: must be one of auto, snap_daemon, root, got "nobody"$/m],
      [{ device: 'site-a-gw1', uplink: { url: 'not a url' } }, /^fieldproof configure: uplink\.url: /],
      [{}, /^fieldproof configure: device: required/],
    ];
    for (const [options, message] of cases) {
      setOptions(w, options);
      writeFileSync(w.log, '');
      const r = runHook(w, 'configure');
      assert.equal(r.code, 1, `${JSON.stringify(options)} should be refused`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      assert.ok(!snapctlCalls(w).some((c) => c[0] === 'restart'));
      assert.equal(readFileSync(join(w.snapData, 'device.yaml'), 'utf8'), before);
    }
  });

  it('runs the daemon as root only when a serial driver needs it, or when told to', async () => {
    const fresh = await snapWorld({}, 'active');
    const userAfter = (options: Record<string, unknown>) => {
      setOptions(fresh, { device: 'gw-5', ...options });
      const r = runHook(fresh, 'configure');
      assert.equal(r.code, 0, r.stderr);
      return { user: readFileSync(join(fresh.snapData, 'daemon-user'), 'utf8').trim(), stdout: r.stdout };
    };
    try {
      const tcpMeter = { kind: 'ion7550', id: 'meter-1', tcp: { host: '192.168.10.20' } };
      assert.equal(userAfter({ drivers: [tcpMeter] }).user, 'snap_daemon');
      const serial = userAfter({ drivers: [tcpMeter, { kind: 'mhz19', id: 'co2', port: '/dev/ttyAMA0' }] });
      assert.equal(serial.user, 'root');
      assert.match(serial.stdout, /the daemon runs as root: \/dev\/ttyAMA0 cannot be opened by snap_daemon/);
      assert.match(serial.stdout, /restarted fieldproof\.daemon/, 'a change of user restarts the daemon');
      assert.equal(userAfter({ drivers: [{ kind: 'ion7550', id: 'meter-2', rtu: { port: '/dev/ttyUSB0' } }] }).user, 'root');
      // an operator who gave snap_daemon the port (a udev rule) can say so
      assert.equal(userAfter({ drivers: [{ kind: 'mhz19', id: 'co2', port: '/dev/ttyAMA0' }], 'daemon-user': 'snap_daemon' }).user, 'snap_daemon');
      assert.equal(userAfter({ 'daemon-user': 'root' }).user, 'root');
    } finally {
      await rm(fresh.dir, { recursive: true, force: true });
    }
  });

  it('at install (daemon not started yet) writes the file without restarting', async () => {
    const fresh = await snapWorld({ device: 'gw-2' }, 'inactive');
    try {
      const r = runHook(fresh, 'configure');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /configuration written/);
      assert.ok(!snapctlCalls(fresh).some((c) => c[0] === 'restart'));
      // Without an http option the page is still on, on loopback.
      assert.equal(loadDeviceConfig(join(fresh.snapData, 'device.yaml')).http?.listen, '127.0.0.1:8080');
    } finally {
      await rm(fresh.dir, { recursive: true, force: true });
    }
  });
});


function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Daemons started by these tests, killed at the end whatever happened, so that a failure does not leave one running. */
const daemons = new Set<ChildProcess>();
after(() => {
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
});

/** Start the daemon through its wrapper and wait for its status page; resolves with the running child. */
async function startDaemon(w: SnapWorld, port: number) {
  const child = spawn('/bin/sh', [join(w.snap, 'bin/fieldproof-daemon')], { env: w.env, stdio: ['ignore', 'pipe', 'pipe'] });
  daemons.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const until = Date.now() + 30_000;
  while ((await healthz(port)) !== 200) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`the daemon did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, exited, output: () => out };
}

describe('daemon wrapper', () => {
  it('runs the daemon as snap_daemon on the hook-written config with data in $SNAP_COMMON, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const w = await snapWorld({ device: 'gw-3', http: { listen: `127.0.0.1:${port}` }, drivers: [{ kind: 'simulated', id: 'sim', 'interval-ms': 100 }], 'log-level': 'warn' });
    try {
      assert.equal(runHook(w, 'install').code, 0);
      const c = runHook(w, 'configure');
      assert.equal(c.code, 0, c.stderr);
      const d = await startDaemon(w, port);
      if (AS_ROOT) {
        // one process all the way (sh, setpriv and node each exec the next): its credentials are the daemon's
        const cred = credentials(d.child.pid!);
        assert.deepEqual(cred.uid, [SNAP_DAEMON, SNAP_DAEMON, SNAP_DAEMON, SNAP_DAEMON]);
        assert.deepEqual(cred.gid, [SNAP_DAEMON, SNAP_DAEMON, SNAP_DAEMON, SNAP_DAEMON]);
        assert.equal(cred.groups, '', 'no supplementary groups');
        assert.equal(cred.noNewPrivs, '1');
        assert.equal(BigInt(`0x${cred.capEff}`), 0n, 'no capabilities');
      }
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.output());
      const data = join(w.snapCommon, 'data');
      assert.ok(existsSync(join(data, 'journal')), 'the journal is in $SNAP_COMMON/data');
      // log-level warn: the info lines (started, progress) are not there.
      assert.ok(!d.output().includes('"msg":"fieldproof running"'), d.output());
      // The operator's `sudo fieldproof journal stats` reads as the daemon's user: LevelDB writes its
      // lock and log files even to read, and they must not become root's.
      const stats = spawnSync('/bin/sh', [join(w.snap, 'bin/fieldproof-cli'), 'journal', 'stats', '--json'], { env: w.env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(stats.status, 0, stats.stderr);
      // (how many readings made it in before the stop depends on the machine's load)
      assert.equal(typeof JSON.parse(stats.stdout).lastSeq, 'number');
      for (const path of walk(data)) {
        const o = ownership(path);
        if (AS_ROOT) assert.deepEqual([o.uid, o.gid], [SNAP_DAEMON, 0], path);
        assert.equal(o.mode & 0o007, 0, `${path} is closed to others`);
        // group root reads all but the private key, so that the hooks see into the folder
        if (!path.endsWith('device.key')) assert.equal(o.mode & 0o040, 0o040, `${path} is readable by group root`);
      }
    } finally {
      await rm(w.dir, { recursive: true, force: true });
    }
  });

  it('hands the data over when the daemon must run as root, and back', { skip: AS_ROOT ? false : 'only root can change users' }, async () => {
    const port = await freePort();
    const options = { device: 'gw-6', http: { listen: `127.0.0.1:${port}` }, drivers: [{ kind: 'simulated', id: 'sim', 'interval-ms': 50 }], 'log-level': 'warn' };
    const w = await snapWorld(options);
    const data = join(w.snapCommon, 'data');
    const run = async (expectUid: number) => {
      assert.equal(runHook(w, 'configure').code, 0);
      const d = await startDaemon(w, port);
      assert.equal(credentials(d.child.pid!).uid[0], expectUid);
      await new Promise((r) => setTimeout(r, 300));
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.output());
      for (const path of walk(data)) assert.equal(ownership(path).uid, expectUid, path);
    };
    try {
      assert.equal(runHook(w, 'install').code, 0);
      await run(SNAP_DAEMON);
      setOptions(w, { ...options, 'daemon-user': 'root' });
      await run(0);
      setOptions(w, options);
      await run(SNAP_DAEMON);
      assert.ok(statSync(join(data, 'journal')).isDirectory());
    } finally {
      await rm(w.dir, { recursive: true, force: true });
    }
  });

  it('says what to do when there is no config yet', async () => {
    const w = await snapWorld({});
    try {
      const r = spawnSync('/bin/sh', [join(w.snap, 'bin/fieldproof-daemon')], { env: w.env, encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `fieldproof: ${join(w.snapData, 'device.yaml')} is missing; set the device name with: snap set fieldproof device=NAME\n`);
    } finally {
      await rm(w.dir, { recursive: true, force: true });
    }
  });
});

describe('cli wrapper', () => {
  it('points journal and keys verbs at the daemon\'s config, and reads the data as the daemon\'s user', async () => {
    const w = await snapWorld({ device: 'gw-4' });
    const cli = (...args: string[]) => spawnSync('/bin/sh', [join(w.snap, 'bin/fieldproof-cli'), ...args], { env: w.env, encoding: 'utf8', timeout: 60_000 });
    try {
      assert.equal(runHook(w, 'install').code, 0);
      assert.equal(runHook(w, 'configure').code, 0);
      const key = JSON.parse(readFileSync(join(w.snapCommon, 'data/device.key'), 'utf8')).public as string;
      const r = cli('keys', 'show', '--json');
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { key });
      // an explicit --data-dir is the caller's own folder: no change of user for it
      const own = join(w.dir, 'own-keys');
      const mine = cli('keys', 'show', '--json', '--data-dir', own);
      assert.equal(mine.status, 0, mine.stderr);
      assert.equal(ownership(join(own, 'device.key')).uid, process.getuid!());
    } finally {
      await rm(w.dir, { recursive: true, force: true });
    }
  });
});

// A stand-in for snapd's `snapctl`, for testing the hooks off a snap system. It keeps the options
// and service states in the JSON file $SNAPCTL_STATE, appends every call to $SNAPCTL_LOG, and
// answers get/set/services/restart the way snapctl does (see snapd's overlord/hookstate/ctlcmd):
// `get` without keys is an error, an unset key prints "" (null with -t), several keys or -d
// print a JSON document, `set` takes JSON values and falls back to strings.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const stateFile = process.env.SNAPCTL_STATE;
const logFile = process.env.SNAPCTL_LOG;
if (!stateFile || !logFile) {
  process.stderr.write('error: SNAPCTL_STATE and SNAPCTL_LOG must be set\n');
  process.exit(1);
}
const state = JSON.parse(readFileSync(stateFile, 'utf8'));
state.options ??= {};
state.services ??= {};
const [cmd, ...args] = process.argv.slice(2);
appendFileSync(logFile, JSON.stringify([cmd, ...args]) + '\n');

function lookup(path) {
  let v = state.options;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in v)) return undefined;
    v = v[part];
  }
  return v;
}

function assign(path, value) {
  const parts = path.split('.');
  let o = state.options;
  for (const p of parts.slice(0, -1)) {
    if (o[p] === null || typeof o[p] !== 'object') o[p] = {};
    o = o[p];
  }
  o[parts.at(-1)] = value;
}

function fail(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

switch (cmd) {
  case 'get': {
    const typed = args.includes('-t');
    const doc = args.includes('-d');
    const keys = args.filter((a) => !a.startsWith('-'));
    if (keys.length === 0) fail('get which option?');
    const value = (k) => {
      const v = lookup(k);
      return v === undefined ? (typed ? null : '') : v;
    };
    if (keys.length === 1 && !doc) {
      const v = value(keys[0]);
      process.stdout.write((typeof v === 'string' && !typed ? v : JSON.stringify(v)) + '\n');
    } else {
      process.stdout.write(JSON.stringify(Object.fromEntries(keys.map((k) => [k, value(k)])), null, '\t') + '\n');
    }
    break;
  }
  case 'set': {
    for (const a of args) {
      const eq = a.indexOf('=');
      if (eq <= 0) fail(`invalid configuration: "${a}" (want key=value)`);
      const raw = a.slice(eq + 1);
      let v;
      try {
        v = JSON.parse(raw);
      } catch {
        v = raw;
      }
      assign(a.slice(0, eq), v);
    }
    writeFileSync(stateFile, JSON.stringify(state));
    break;
  }
  case 'services': {
    const lines = ['Service  Startup  Current  Notes'];
    for (const [name, current] of Object.entries(state.services)) {
      if (args.length === 0 || args.includes(name)) lines.push(`${name}  enabled  ${current}  -`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    break;
  }
  case 'restart':
  case 'start':
  case 'stop':
    if (args.length === 0) fail(`${cmd} which service?`);
    break;
  default:
    fail(`unknown command ${JSON.stringify(cmd)}`);
}

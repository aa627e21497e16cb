// The `fieldproof` command itself, before any verb: its version line, and where it refuses to run.
import { strict as assert } from 'node:assert';
import { mkdtemp, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { BIN, runCli } from '../../test/support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

it('--version names the product version and the Node it runs on, and nothing else', async () => {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  // stderr stays empty: no loader or experimental-feature warnings for scripts to trip on
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `fieldproof ${version} (node ${process.version})\n`);
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, `the suite runs on Node 24 or later, not ${process.version}`);
});

it('refuses in one line to run from inside node_modules, where Node does not strip types', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fieldproof-nm-'));
  try {
    await mkdir(join(dir, 'node_modules'));
    await symlink(ROOT, join(dir, 'node_modules/fieldproof'));
    // --preserve-symlinks-main: the command sees the path it was installed under, as a real copy would
    const r = spawnSync(process.execPath, ['--preserve-symlinks-main', join(dir, 'node_modules/fieldproof/bin/fieldproof.js'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^fieldproof: cannot run from inside a node_modules folder .*\n$/);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('tells an older Node what it needs rather than failing on the first TypeScript import', () => {
  // --no-experimental-strip-types stands in for a Node without type stripping
  const r = spawnSync(process.execPath, ['--no-experimental-strip-types', BIN, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `fieldproof: needs Node 24 or later, with type stripping; this is node ${process.version}\n`);
});

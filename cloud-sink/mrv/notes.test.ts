// Operators' notes on meter events: signed by `fieldproof sink-devices note` with the operator's
// key, kept by the sink whatever their standing, counting only for an operator the config lists.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKey } from '../../protocol/signature.ts';
import { runCli } from '../../test/support/cli.ts';
import { sinkConfig } from '../config.ts';
import { Sink } from '../sink.ts';
import { tempDir } from '../../test/support/sink.ts';
import { signNote } from './notes.ts';

const TOKEN = 'notes-test-admin-token-0123456789';

describe('operator notes', () => {
  const tmp = tempDir();
  const opDir = `${tmp.dir}/operator`;
  let sink: Sink;
  let operatorKey: string;

  before(async () => {
    const init = await runCli(['keys', 'init', '--data-dir', opDir, '--json']);
    assert.equal(init.code, 0, init.stderr);
    operatorKey = JSON.parse(init.stdout).key;
    sink = new Sink(sinkConfig({
      listen: '127.0.0.1:0', dataDir: `${tmp.dir}/sink`, adminToken: TOKEN, devices: [{ id: 'site-a', key: generateKey().public }],
      report: { operators: [{ id: 'alice', key: operatorKey }], indexIntervalMs: 0 },
    }));
    await sink.start();
  });
  after(async () => {
    await sink.stop();
    tmp.cleanup();
  });

  const note = (extra: string[] = []) => runCli(['sink-devices', 'note', '--url', sink.url, '--token', TOKEN, '--device', 'site-a', '--sensor', 'meter-1',
    '--event-ts', '1767225600000', '--event-kind', 'reset', '--text', 'meter cleared during the 2026-01-01 inspection, work order 77', '--operator', 'alice', '--operator-key', opDir, ...extra]);

  it('signs a note with the operator\'s key and the sink keeps it, counting', async () => {
    const r = await note();
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.status, 'stored');
    assert.equal(out.counts, true);
    assert.equal(out.note.key, operatorKey);
    const again = await note(['--no-credit']);
    assert.equal(JSON.parse(again.stdout).note.credit, false);
    const list = await runCli(['sink-devices', 'notes', '--url', sink.url, '--device', 'site-a']);
    assert.equal(list.code, 0, list.stderr);
    const notes = JSON.parse(list.stdout).notes as { counts: boolean; operator: string; text: string }[];
    assert.equal(notes.length, 2);
    assert.ok(notes.every((n) => n.counts && n.operator === 'alice'));
  });

  it('keeps a note by an operator the sink does not list, not counting; refuses one altered after signing', async () => {
    const mallory = generateKey();
    const n = signNote({ device: 'site-a', sensor: 'meter-1', eventTs: 1, eventKind: 'jump', credit: true, text: 'trust me', operator: 'mallory', at: 2 }, mallory);
    const post = (body: unknown, token = TOKEN) => fetch(`${sink.url}/v1/devices/site-a/notes`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const kept = await post(n);
    assert.equal(kept.status, 201);
    const body = (await kept.json()) as { counts: boolean; standing: string };
    assert.equal(body.counts, false);
    assert.match(body.standing, /not listed/);
    assert.equal((await post({ ...n, text: 'trust me more' })).status, 422);
    // alice's name on mallory's key does not make it alice's
    const forged = signNote({ device: 'site-a', sensor: 'meter-1', eventTs: 1, eventKind: 'jump', credit: true, text: 'x', operator: 'alice', at: 2 }, mallory);
    assert.match(((await (await post(forged)).json()) as { standing: string }).standing, /not operator alice's/);
    assert.equal((await post(n, 'wrong-token-wrong-token-wrong')).status, 401);
    assert.equal((await post({ ...n, device: 'site-b' })).status, 400);
  });

  it('a mistake on the command line is one line and exit 2', async () => {
    for (const [args, message] of [
      [['--event-kind', 'explosion'], /--event-kind must be one of/],
      [['--event-ts', 'soon'], /--event-ts must be/],
      [['--operator-key', `${tmp.dir}/nope`], /--operator-key: .*does not exist/],
    ] as const) {
      const r = await note([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});

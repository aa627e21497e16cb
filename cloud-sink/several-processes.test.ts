// Two real `fieldproof sink` processes over one PostgreSQL database (FIELDPROOF_TEST_PG), started
// at the same moment on one data folder, anchoring to the Aptos SIMULATOR: a device posting to
// them alternately and all at once, conflicting batches raced at both, every batch sent to both.
// In the end every batch is stored exactly once, in exactly one anchor, each anchor on chain once,
// and every receipt is signed by the one key both processes share. Last, one process is SIGKILLed
// under load and the devices carry on with the other: nothing lost, nothing stored twice.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Account } from '@aptos-labs/ts-sdk';
import pg from 'pg';
import { request } from 'undici';
import { headerHash, type Batch } from '../protocol/batch.ts';
import { verifyReceiptSignature, type Receipt } from '../protocol/receipt.ts';
import { generateKey, type DeviceKey } from '../protocol/signature.ts';
import { loadAnchorAbi } from './anchor/abi.ts';
import { AptosSimulator } from './aptos-simulator/simulator.ts';
import { startSinkProcess, type SinkProcess } from './sink-process.ts';
import { makeChain, postColumnar, postJson, signBatch, tempDir, type Reply } from '../test/support/sink.ts';

const PG = process.env.FIELDPROOF_TEST_PG;
const skip = PG ? false : 'FIELDPROOF_TEST_PG is not set: no PostgreSQL to test against (.ci/run sets it)';

describe('two sink processes over one PostgreSQL database', { skip, timeout: 120_000 }, () => {
  const schema = `fp_procs_${process.pid}_${Date.now().toString(36)}`;
  const tmp = tempDir();
  const account = Account.generate();
  const sim = new AptosSimulator({ abi: loadAnchorAbi(), moduleAddress: account.accountAddress.toString(), chainId: 2, commitDelayMs: 20 });
  const keys = new Map<string, DeviceKey>(['alt', 'burst', 'twin-1', 'twin-2', 'twin-3'].map((id) => [id, generateKey()]));
  const sinks: SinkProcess[] = [];
  let receiptKey = '';
  const db = () => new pg.Client({ connectionString: PG, options: `-c search_path=${schema}` });

  async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
    const c = db();
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  }

  function assertAccepted(r: Reply, batch: Batch): void {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const receipt = r.body.receipt as Receipt;
    assert.equal(receipt.sink, receiptKey, 'every receipt is signed with the one key both processes share');
    assert.equal(receipt.header, headerHash(batch.header));
    assert.equal(verifyReceiptSignature(receipt), true);
  }

  before(async () => {
    await sim.start();
    sim.createAccount(account.accountAddress.toString());
    const aptosKey = join(tmp.dir, 'aptos.key');
    writeFileSync(aptosKey, account.privateKey.toString());
    const config = join(tmp.dir, 'sink.yaml');
    writeFileSync(config, [
      'listen: 127.0.0.1:0',
      `dataDir: ${JSON.stringify(join(tmp.dir, 'sink'))}`,
      'devices:',
      ...[...keys].flatMap(([id, k]) => [`  - id: ${id}`, `    key: ${k.public}`]),
      'store:', '  kind: postgres', `  url: ${JSON.stringify(PG)}`, `  schema: ${schema}`, '  poolSize: 4',
      // the races below send more at once from one address than a device would
      'limits:', '  maxRequestsPerClient: 64',
      'adminToken: fleet-admin-token-for-the-test',
      'anchor:', '  mode: aptos', '  intervalMs: 300', '  retryMs: 100',
      '  aptos:', `    node: ${sim.url}`, `    module: ${account.accountAddress.toString()}::anchor`, `    privateKeyFile: ${JSON.stringify(aptosKey)}`, '    waitSecs: 5',
      '',
    ].join('\n'));
    // Started together on one data folder that has no receipt key yet: both must end up with one key.
    sinks.push(...(await Promise.all([startSinkProcess(config), startSinkProcess(config)])));
    const announced = sinks.map((s) => String(s.logs.find((l) => l.msg === 'sink listening')!.receiptKey));
    assert.equal(announced[0], announced[1], 'both processes sign receipts with the same key');
    receiptKey = announced[0]!;
  });

  after(async () => {
    await Promise.all(sinks.map((s) => s.stop()));
    await sim.stop();
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
    tmp.cleanup();
  });

  it('takes a device\'s batches sent to the two processes in turn, and each sent again to the other as a duplicate', async () => {
    const chain = makeChain('alt', keys.get('alt')!, 10, 40);
    for (const [i, batch] of chain.entries()) {
      const r = await (i % 2 ? postJson : postColumnar)(sinks[i % 2]!.url, batch);
      assertAccepted(r, batch);
      assert.equal(r.body.status, 'stored');
    }
    for (const [i, batch] of chain.entries()) {
      const r = await postJson(sinks[(i + 1) % 2]!.url, batch);
      assertAccepted(r, batch);
      assert.equal(r.body.status, 'duplicate');
    }
  });

  it('takes a whole chain sent at once, odd batches to one process and even to the other, without an out-of-order refusal', async () => {
    // Each process sees every other batch only: a batch's predecessor is always at the other one.
    const chain = makeChain('burst', keys.get('burst')!, 16, 30);
    const replies = await Promise.all(chain.map((batch, i) => postColumnar(sinks[i % 2]!.url, batch)));
    replies.forEach((r, i) => assertAccepted(r, chain[i]!));
    assert.deepEqual(replies.map((r) => r.body.status), chain.map(() => 'stored'));
  });

  it('stores one of two conflicting batches raced at the two processes and reports the other as equivocation', async () => {
    const outcomes = await Promise.all(['twin-1', 'twin-2', 'twin-3'].map(async (device) => {
      const key = keys.get(device)!;
      const chain = makeChain(device, key, 3, 20);
      for (const batch of chain.slice(0, 2)) assertAccepted(await postJson(sinks[0]!.url, batch), batch);
      const records = structuredClone(chain[2]!.records);
      (records[0] as { value: number }).value = -1;
      const twin = signBatch(device, key, 3, records, headerHash(chain[1]!.header));
      const [r0, r1] = await Promise.all([postJson(sinks[0]!.url, chain[2]!), postJson(sinks[1]!.url, twin)]);
      const won = r0.status === 200 ? chain[2]! : twin;
      const lost = r0.status === 200 ? r1 : r0;
      assertAccepted(r0.status === 200 ? r0 : r1, won);
      assert.equal(lost.status, 409, JSON.stringify(lost.body));
      assert.equal(lost.body.code, 'equivocation');
      assert.equal(lost.body.storedHash, headerHash(won.header));
      return { device, won: headerHash(won.header), lost: headerHash((won === twin ? chain[2]! : twin).header) };
    }));
    const reports = await query<{ device: string; stored_hash: string; offered_hash: string }>('SELECT device, stored_hash, offered_hash FROM sink_equivocations ORDER BY device');
    assert.deepEqual(reports.map((r) => ({ device: r.device, won: r.stored_hash, lost: r.offered_hash })), outcomes);
  });

  it('accepts at one process a device registered through the other', async () => {
    const key = generateKey();
    const added = await request(`${sinks[0]!.url}/v1/devices`, {
      method: 'POST', body: JSON.stringify({ id: 'late', key: key.public }),
      headers: { 'content-type': 'application/json', authorization: 'Bearer fleet-admin-token-for-the-test' },
    });
    await added.body.text();
    assert.ok(added.statusCode === 200 || added.statusCode === 201, String(added.statusCode));
    const [batch] = makeChain('late', key, 1, 10);
    const r = await postJson(sinks[1]!.url, batch!);
    assertAccepted(r, batch!);
  });

  it('has stored every batch once and anchored each in exactly one anchor, each anchor on chain once', async () => {
    const counts = await query<{ device: string; n: number; batches: number }>(
      'SELECT device, count(*)::int AS n, count(DISTINCT batch)::int AS batches FROM sink_batches GROUP BY device ORDER BY device');
    assert.deepEqual(counts.map((r) => [r.device, r.n, r.batches]), [['alt', 10, 10], ['burst', 16, 16], ['late', 1, 1], ['twin-1', 3, 3], ['twin-2', 3, 3], ['twin-3', 3, 3]]);
    // The anchorer of either process picks them up within a few intervals.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [open] = await query<{ n: number }>(`SELECT (SELECT count(*) FROM sink_batches WHERE anchor_id IS NULL) + (SELECT count(*) FROM sink_anchors WHERE state <> 'committed') AS n`);
      if (Number(open!.n) === 0) break;
      assert.ok(Date.now() < deadline, `${open!.n} batches or anchors still open after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const anchors = await query<{ id: string; root: string; size: number; tx: string; leaves: number }>(
      'SELECT a.id, a.root, a.size, a.tx, (SELECT count(*)::int FROM sink_batches b WHERE b.anchor_id = a.id) AS leaves FROM sink_anchors a ORDER BY a.id');
    for (const a of anchors) assert.equal(a.leaves, a.size, `anchor ${a.id} covers as many batches as its tree has leaves`);
    assert.equal(anchors.reduce((n, a) => n + a.size, 0), 36);
    const onChain = sim.transactions().filter((t) => t.functionId.endsWith('::record_root') && t.success === true);
    assert.equal(onChain.length, anchors.length, 'one record_root transaction per anchor');
    assert.equal(new Set(anchors.map((a) => a.tx)).size, anchors.length);
    assert.equal(new Set(anchors.map((a) => a.root)).size, anchors.length);
    // anchors and the device key registrations of both processes went out as one account, in turn
    assert.deepEqual(sim.rejected.filter((m) => /SEQUENCE_NUMBER/.test(m)), [], 'no transaction raced another for a sequence number');
    assert.equal(sim.transactions().filter((t) => t.success === false && !/E_DEVICE_EXISTS/.test(t.vmStatus)).length, 0);
    const anchoring = sinks.map((s) => s.logs.filter((l) => l.msg === 'anchor committed').length);
    assert.equal(anchoring[0]! + anchoring[1]!, anchors.length, 'each anchor committed by one process');
  });

  it('loses nothing and stores nothing twice when one process is SIGKILLed in the middle of the load', async () => {
    const fleet = Array.from({ length: 8 }, (_, d) => ({ id: `kill-${d}`, key: generateKey() }));
    for (const d of fleet) {
      const r = await request(`${sinks[1]!.url}/v1/devices`, {
        method: 'POST', body: JSON.stringify({ id: d.id, key: d.key.public }),
        headers: { 'content-type': 'application/json', authorization: 'Bearer fleet-admin-token-for-the-test' },
      });
      await r.body.text();
    }
    let accepted = 0;
    let killed = false;
    // each device posts its chain one batch at a time, to the two processes in turn; when the
    // first is gone, to the second, and a batch whose answer was lost with it is sent again
    await Promise.all(fleet.map(async ({ id, key }) => {
      for (const [i, batch] of makeChain(id, key, 15, 30).entries()) {
        for (let attempt = 0; ; attempt++) {
          assert.ok(attempt < 100, `batch ${i + 1} of ${id} never accepted`);
          const url = sinks[killed ? 1 : i % 2]!.url;
          let r: Reply;
          try {
            r = await postColumnar(url, batch);
          } catch {
            continue; // the killed process: its connection is gone
          }
          if (r.status === 409 && r.body.code === 'out_of_order') continue;
          assertAccepted(r, batch);
          break;
        }
        if (++accepted === 40) {
          killed = true;
          sinks[0]!.child.kill('SIGKILL');
        }
      }
    }));
    const rows = await query<{ device: string; n: number; batches: number; lo: string; hi: string }>(
      `SELECT device, count(*)::int AS n, count(DISTINCT batch)::int AS batches, min(batch) AS lo, max(batch) AS hi FROM sink_batches WHERE device LIKE 'kill-%' GROUP BY device ORDER BY device`);
    assert.deepEqual(rows.map((r) => [r.device, r.n, r.batches, Number(r.lo), Number(r.hi)]), fleet.map((d) => [d.id, 15, 15, 1, 15]));
  });
});

// The proof page's check against the operator's account (www/operator-check.js, plain JavaScript
// on fetch) against the CLI's (anchor/operator-check.ts, on the Aptos SDK), both asking the same
// Aptos simulator over real HTTP: an honest proof, an unanchored one, and every forgery only the
// chain can refuse give the same steps, word for word; the key rule and the reading of a node's
// answers agree on every case, addresses are read as the SDK reads them. The Chromium test runs
// the same module in the page, through the node's CORS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccountAddress } from '@aptos-labs/ts-sdk';
import type { RecordProof } from '../../protocol/proof.ts';
import { generateKey } from '../../protocol/signature.ts';
import { ChainFixture, chainOf, recordProof, type Operator } from '../anchor/chain-testing.ts';
import { judgeKey, keyValidAt, parseDeviceKeys, type OnChainKey } from '../anchor/device-keys.ts';
import { checkProofAgainstOperator } from '../anchor/operator-check.ts';
import { chainForgeries } from '../../test/support/forgeries.ts';
import { makeChain } from '../../test/support/sink.ts';
// @ts-expect-error: a browser module in plain JavaScript, without type declarations
import * as browser from './www/operator-check.js';
// @ts-expect-error: as above
import * as browserKeys from './www/device-keys.js';
// @ts-expect-error: as above
import * as browserNode from './www/aptos-node.js';

type Step = { step: string; ok: boolean; detail?: string };
const checkInBrowser = browser.checkProofAgainstOperator as (proof: unknown, trust: { anchorAccount: string; aptosNode: string }, now?: () => number) => Promise<Step[]>;

describe('the proof page\'s check against the operator\'s account', () => {
  const fx = new ChainFixture();
  const op = fx.operator();
  let attacker: Operator;
  const key = generateKey();
  let honest: RecordProof;

  /** The page's steps are the CLI's, step for step; the steps. */
  async function sameSteps(proof: RecordProof, account: string, node = fx.url, now = () => 1_800_000_000_000): Promise<Step[]> {
    const trust = { anchorAccount: account, aptosNode: node };
    const mine = await checkInBrowser(proof, trust, now);
    assert.deepEqual(mine, await checkProofAgainstOperator(proof, trust, now));
    return mine;
  }

  before(async () => {
    await fx.start();
    attacker = fx.operator(true);
    await chainOf(fx, op).deviceKeys.register('site-a', key.public, 0);
    const batches = makeChain('site-a', key, 3, 4);
    const sent = await fx.anchor(op.account, op.module, batches);
    honest = recordProof(batches, 1, 2, { tx: sent.tx, version: sent.version, module: op.module });
  });
  after(() => fx.stop());

  it('holds an honest proof at the operator\'s account, given in any form the chain accepts', async () => {
    const steps = await sameSteps(honest, op.address);
    assert.deepEqual(steps.map((s) => `${s.step}:${s.ok}`), ['anchor transaction:true', 'anchor sender:true', 'anchor call:true', 'anchor view:true', 'device key:true']);
    await sameSteps(honest, op.address.replace(/^0x0+/, '0x').toUpperCase().replace(/^0X/, '0x'));
    const unanchored = await sameSteps(recordProof(makeChain('site-a', key, 1, 2), 0, 0), op.address);
    assert.deepEqual(unanchored.map((s) => `${s.step}:${s.ok}`), ['device key:true']);
  });

  it('refuses every forgery only the chain can tell, at the CLI\'s step, for the CLI\'s reason', async () => {
    const forgeries = await chainForgeries(fx, op, attacker, honest, key, fx.url);
    for (const f of forgeries) {
      const steps = await sameSteps(f.proof, f.account).catch((err: Error) => assert.fail(`${f.name}: ${err.message}`));
      assert.deepEqual(steps.at(-1), { step: f.step, ok: false, detail: f.detail }, f.name);
    }
    assert.deepEqual((await sameSteps({ ...honest, anchor: { ...honest.anchor!, tx: '../accounts/0x1' } }, op.address)).at(-1),
      { step: 'anchor transaction', ok: false, detail: 'anchor.tx "../accounts/0x1" is not a transaction hash (0x and 64 lowercase hex digits)' });
  });

  it('says the node cannot be asked, as the CLI does, and refuses an account that is no address', async () => {
    const down = await checkInBrowser(honest, { anchorAccount: op.address, aptosNode: 'http://127.0.0.1:1/v1' });
    assert.equal(down.length, 1);
    assert.equal(down[0]!.step, 'anchor transaction');
    assert.match(down[0]!.detail!, /^cannot ask http:\/\/127\.0\.0\.1:1\/v1: /);
    await assert.rejects(checkInBrowser(honest, { anchorAccount: 'operator', aptosNode: fx.url }), browser.TrustRootError);
  });

  it('judges a key as the CLI does: registered, rotated out, revoked, revoked before the anchor', () => {
    const k = (over: Partial<Record<string, string | boolean>>) => ({
      key: `0x${'ab'.repeat(32)}`, valid_from_ms: '1000', valid_until_ms: (2n ** 64n - 1n).toString(), revoked_from_ms: (2n ** 64n - 1n).toString(),
      registered_at_us: '5', revoked_at_us: '0', endorsed: false, ...over,
    });
    const lists = [[], [k({})], [k({ valid_until_ms: '3000' })], [k({ revoked_from_ms: '2500', revoked_at_us: '4000000' })], [k({ key: `0x${'cd'.repeat(32)}` }), k({ valid_from_ms: '2000' })]];
    for (const json of lists) {
      const theirs = parseDeviceKeys(json);
      const mine = browserKeys.parseDeviceKeys(json) as OnChainKey[];
      assert.deepEqual(mine, theirs);
      for (const createdMs of [0, 999, 1000, 2000, 2499, 2500, 3000, 9_000_000]) {
        for (const anchoredAtUs of [1_000_000n, 3_999_999n, 4_000_000n]) {
          for (const hex of ['ab'.repeat(32), 'cd'.repeat(32)]) {
            const q = { operator: op.address, device: 'site-a', key: hex, createdMs, anchoredAtUs };
            assert.deepEqual(browserKeys.judgeKey(mine, q), judgeKey(theirs, q));
            assert.equal(browserKeys.keyValidAt(mine, hex, BigInt(createdMs)), keyValidAt(theirs, hex, BigInt(createdMs)));
          }
        }
      }
    }
    const bad: unknown[] = [null, {}, Array(65).fill(k({})), [k({ key: 'ab' })], [k({ endorsed: 'no' as unknown as boolean })], [k({ valid_from_ms: '-1' })], [k({ revoked_at_us: '18446744073709551616' })]];
    for (const json of bad) {
      const message = (f: () => unknown) => {
        try {
          f();
          return 'no error';
        } catch (err) {
          return (err as Error).message;
        }
      };
      assert.equal(message(() => browserKeys.parseDeviceKeys(json)), message(() => parseDeviceKeys(json)), JSON.stringify(json).slice(0, 80));
    }
  });

  it('reads addresses as the SDK does', () => {
    for (const a of ['0x1', '0xA', '0x0', '0x10', '0xCAFE', 'cafe', `0x${'AB'.repeat(32)}`, `0x${'0'.repeat(64)}`, '0x00001', '0x', '0xg', `0x${'1'.repeat(65)}`, '0X1', '']) {
      let sdk: string;
      try {
        sdk = AccountAddress.fromString(a, { maxMissingChars: 63 }).toString();
      } catch {
        sdk = 'refused';
      }
      let mine: string;
      try {
        mine = browserNode.longAddress(a) as string;
      } catch {
        mine = 'refused';
      }
      assert.equal(mine, sdk, JSON.stringify(a));
    }
  });
});

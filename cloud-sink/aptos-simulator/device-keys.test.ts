// The simulator runs the device key registry as strictly as the module: over real HTTP, each
// entry function with its event, each rule with its abort code (and nothing changed by an abort),
// the views through the SDK's BCS requests and through JSON ones, checked against their types.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Hex } from '@aptos-labs/ts-sdk';
import { endorseRotation, rotationMessage } from '../../protocol/key-rotation.ts';
import { generateKey } from '../../protocol/signature.ts';
import { ChainFixture, chainOf, type Sent } from '../anchor/chain-testing.ts';
import type { DeviceKeyChain } from '../anchor/device-key-chain.ts';

const bytes = (hex: string) => Hex.fromHexInput(hex).toUint8Array();
const NO_END = 2n ** 64n - 1n;
/** the order of the Ed25519 group: S + L verifies in a lax check, never in a strict one */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

describe('the Aptos simulator\'s device key registry', () => {
  const fx = new ChainFixture();
  const op = fx.operator();
  let registry: DeviceKeyChain;
  const send = (name: string, args: Parameters<ChainFixture['send']>[3]) => fx.send(op.account, op.module, name, args);
  const aborted = (sent: Sent, constant: string, code: number) => {
    assert.equal(sent.success, false, constant);
    assert.equal(sent.vmStatus, `Move abort in ${op.address}::anchor: ${constant}(0x${code.toString(16)})`);
  };
  const view = async (fn: string, args: unknown[]) => {
    const res = await fetch(`${fx.url}/view`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ function: `${op.module}::${fn}`, type_arguments: [], arguments: args }) });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const txJson = async (hash: string) => (await (await fetch(`${fx.url}/transactions/by_hash/${hash}`)).json()) as { events: { type: string; data: Record<string, unknown> }[] };

  before(async () => {
    await fx.start();
    registry = chainOf(fx, op).deviceKeys;
  });
  after(() => fx.stop());

  it('registers, rotates with an endorsement, replaces and revokes, emitting each event', async () => {
    const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
    const reg = await registry.register('site-a', k1.public, 1000);
    assert.deepEqual((await txJson(reg.tx)).events.map((e) => [e.type, e.data]), [[`${op.address}::anchor::DeviceKeyRegistered`, { operator: op.address, device: 'site-a', key: `0x${k1.public}`, valid_from_ms: '1000' }]]);
    const rot = await registry.rotate('site-a', k2.public, 5000, endorseRotation(k1, { operator: op.address, device: 'site-a', newKey: k2.public, validFromMs: 5000 }));
    assert.deepEqual((await txJson(rot.tx)).events[0]!.data, { operator: op.address, device: 'site-a', old_key: `0x${k1.public}`, new_key: `0x${k2.public}`, valid_from_ms: '5000', endorsed: true });
    const rep = await registry.replace('site-a', k3.public, 9000);
    assert.equal((await txJson(rep.tx)).events[0]!.data.endorsed, false);
    const rev = await registry.revoke('site-a', k2.public, 6000);
    assert.deepEqual((await txJson(rev.tx)).events.map((e) => [e.type, e.data]), [[`${op.address}::anchor::DeviceKeyRevoked`, { operator: op.address, device: 'site-a', key: `0x${k2.public}`, revoked_from_ms: '6000' }]]);

    const keys = await registry.deviceKeys('site-a');
    assert.deepEqual(keys.map((k) => [k.key, k.validFromMs, k.validUntilMs, k.revokedFromMs, k.endorsed]), [
      [k1.public, 1000n, 5000n, null, false], [k2.public, 5000n, 9000n, 6000n, true], [k3.public, 9000n, null, null, false],
    ]);
    assert.ok(keys[1]!.revokedAtUs! > keys[1]!.registeredAtUs);
    const valid = async (key: string, t: string) => (await view('key_valid_at', [op.address, 'site-a', `0x${key}`, t])).body;
    assert.deepEqual([await valid(k1.public, '999'), await valid(k1.public, '1000'), await valid(k1.public, '4999'), await valid(k1.public, '5000')], [[false], [true], [true], [false]]);
    assert.deepEqual([await valid(k2.public, '5999'), await valid(k2.public, '6000'), await valid(k3.public, '9000')], [[true], [false], [true]]);
    assert.deepEqual((await view('device_keys', [op.address, 'site-b'])).body, [[]]);
    const raw = (await view('device_keys', [op.address, 'site-a'])).body as [Record<string, unknown>[]];
    assert.deepEqual(raw[0]![2], { key: `0x${k3.public}`, valid_from_ms: '9000', valid_until_ms: NO_END.toString(), revoked_from_ms: NO_END.toString(), registered_at_us: String(keys[2]!.registeredAtUs), revoked_at_us: '0', endorsed: false });
  });

  it('answers rotation_message with the bytes protocol/key-rotation.ts builds', async () => {
    const [a, b] = [generateKey(), generateKey()];
    const expected = rotationMessage({ operator: op.address, device: 'site-m', oldKey: a.public, newKey: b.public, validFromMs: 1_763_884_900_000 });
    assert.deepEqual((await view('rotation_message', [op.address, 'site-m', `0x${a.public}`, `0x${b.public}`, '1763884900000'])).body, [`0x${expected.toString('hex')}`]);
  });

  it('aborts on each rule with the module\'s code, changing nothing but the sequence number', async () => {
    const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
    const name = 'site-r';
    aborted(await send('register_device_key', ['-site', bytes(k1.public), 0]), 'E_DEVICE_NAME', 0x10006);
    aborted(await send('register_device_key', ['', bytes(k1.public), 0]), 'E_DEVICE_NAME', 0x10006);
    aborted(await send('register_device_key', [name, bytes(k1.public.slice(0, 62)), 0]), 'E_INVALID_KEY', 0x10005);
    aborted(await send('register_device_key', [name, bytes('01' + '00'.repeat(31)), 0]), 'E_INVALID_KEY', 0x10005);
    aborted(await send('replace_device_key', [name, bytes(k2.public), 10]), 'E_DEVICE_NOT_FOUND', 0x60008);
    aborted(await send('revoke_device_key', [name, bytes(k2.public), 10]), 'E_DEVICE_NOT_FOUND', 0x60008);
    await registry.register(name, k1.public, 100);
    aborted(await send('register_device_key', [name, bytes(k2.public), 0]), 'E_DEVICE_EXISTS', 0x80007);

    const endorse = (validFromMs: number, key = k1) => bytes(endorseRotation(key, { operator: op.address, device: name, newKey: k2.public, validFromMs }));
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 500, endorse(501)]), 'E_BAD_ENDORSEMENT', 0x5000c);
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 500, endorse(500, k3)]), 'E_BAD_ENDORSEMENT', 0x5000c);
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 500, endorse(500).subarray(0, 63)]), 'E_BAD_ENDORSEMENT', 0x5000c);
    const sig = Buffer.from(endorse(500));
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex')) + L;
    const malleable = Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse()]);
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 500, malleable]), 'E_BAD_ENDORSEMENT', 0x5000c);
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 100, bytes(endorseRotation(k1, { operator: op.address, device: name, newKey: k2.public, validFromMs: 100 }))]), 'E_ROTATION_TIME', 0x1000b);
    aborted(await send('replace_device_key', [name, bytes(k1.public), 200]), 'E_KEY_REUSED', 0x8000a);
    aborted(await send('replace_device_key', [name, bytes(k2.public), NO_END]), 'E_TIME_NO_END', 0x10010);
    aborted(await send('revoke_device_key', [name, bytes(k2.public), 10]), 'E_KEY_NOT_FOUND', 0x60009);
    aborted(await send('revoke_device_key', [name, bytes(k1.public), NO_END]), 'E_TIME_NO_END', 0x10010);
    assert.deepEqual(fx.sim.deviceKeys(op.address, name).map((k) => [k.key.toString('hex'), k.validUntilMs, k.revokedFromMs]), [[k1.public, NO_END, NO_END]], 'nothing changed');

    await registry.revoke(name, k1.public, 300);
    aborted(await send('revoke_device_key', [name, bytes(k1.public), 200]), 'E_ALREADY_REVOKED', 0x3000e);
    aborted(await send('rotate_device_key', [name, bytes(k2.public), 500, endorse(500)]), 'E_KEY_REVOKED', 0x3000d);
    await registry.replace(name, k2.public, 500);

    // One account cannot touch another's registry: its calls land in its own, where the device is unknown.
    const stranger = fx.operator(true);
    const strangerCall = await fx.send(stranger.account, op.module, 'revoke_device_key', [name, bytes(k2.public), 0]);
    assert.equal(strangerCall.vmStatus, `Move abort in ${op.address}::anchor: E_DEVICE_NOT_FOUND(0x60008)`);
    assert.equal(fx.sim.deviceKeys(op.address, name)[1]!.revokedFromMs, NO_END);
  });

  it('refuses a device\'s 65th key', async () => {
    await registry.register('site-many', generateKey().public, 0);
    for (let i = 1; i < 64; i++) await registry.replace('site-many', generateKey().public, i);
    aborted(await send('replace_device_key', ['site-many', bytes(generateKey().public), 64]), 'E_TOO_MANY_KEYS', 0x9000f);
  });

  it('reads JSON view arguments as their Move types, and nothing else', async () => {
    const key = `0x${generateKey().public}`;
    const refused = async (args: unknown[], pattern: RegExp, extra: Record<string, unknown> = {}) => {
      const res = await fetch(`${fx.url}/view`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ function: `${op.module}::key_valid_at`, type_arguments: [], arguments: args, ...extra }) });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { message: string }).message, pattern);
    };
    await refused([op.address, 'site-a', key, 5], /argument 3 must be a decimal string below 2\^64 for u64/);
    await refused([op.address, 'site-a', key, '18446744073709551616'], /argument 3 must be a decimal string/);
    await refused(['0xzz', 'site-a', key, '5'], /argument 0 must be 0x and 1 to 64 hex digits/);
    await refused([op.address, 'site-a', '0xabc', '5'], /argument 2 must be 0x and hex byte pairs/);
    await refused([op.address, 7, key, '5'], /argument 1 must be a string/);
    await refused([op.address, 'site-a', key], /takes 4 arguments/);
    await refused([op.address, 'site-a', key, '5'], /no type arguments/, { type_arguments: ['u8'] });
    const wrongModule = await fetch(`${fx.url}/view`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ function: `0x${'ab'.repeat(32)}::anchor::key_valid_at`, arguments: [op.address, 'site-a', key, '5'] }) });
    assert.match(((await wrongModule.json()) as { message: string }).message, /is not published/);
    const notView = await view('register_device_key', ['site-a', key, '5']);
    assert.match((notView.body as { message: string }).message, /is not a view function/);
  });
});

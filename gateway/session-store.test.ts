import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../kernel/log.ts';
import { SessionStore, type StoredSession } from './session-store.ts';

const root = mkdtempSync(join(tmpdir(), 'fieldproof-gateway-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

const session = (id: string, fCntUp: number): StoredSession => ({
  deviceId: id, sid: `sid-${id}`, activation: 'abp', devAddr: '01020304', nwkSKey: '00'.repeat(16), appSKey: '11'.repeat(16), fCntUp, fCntDown: 0, lastMic: 0x1234, lastUplinkAt: 1,
});

describe('gateway session store', () => {
  it('keeps sessions in their own LevelDB under <dataDir>/gateway and reads them back after reopening', async () => {
    const dir = mkdtempSync(join(root, 'a-'));
    const store = new SessionStore(dir, silentLogger(), 50);
    await store.open();
    assert.equal(store.path, join(dir, 'gateway'));
    const a = session('a', 5);
    await store.saveNow(a);
    await store.saveNow(session('b', 9));
    store.markDirty(a);
    a.fCntUp = 6; // changed again before the write: the write takes the newest state
    store.markDirty(a);
    await store.close();

    const again = new SessionStore(dir, silentLogger());
    await again.open();
    const loaded = await again.loadSessions();
    assert.deepEqual([...loaded.keys()].sort(), ['a', 'b']);
    assert.equal(loaded.get('a')!.fCntUp, 6);
    assert.equal(loaded.get('b')!.lastMic, 0x1234);
    assert.equal(loaded.get('b')!.fCntUp, 9);
    await again.delete('b');
    assert.deepEqual([...(await again.loadSessions()).keys()], ['a']);
    await again.close();
  });

  it('writes coalesced counter changes within the flush delay, without a stop', async () => {
    const dir = mkdtempSync(join(root, 'b-'));
    const store = new SessionStore(dir, silentLogger(), 20);
    await store.open();
    await store.saveNow(session('busy', 0));
    for (let i = 0; i < 100; i++) store.markDirty(session('busy', i));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await store.loadSessions()).get('busy')!.fCntUp, 99);
    await store.close();
  });

  it('never applies counters written for an earlier session of the device', async () => {
    const dir = mkdtempSync(join(root, 'e-'));
    const store = new SessionStore(dir, silentLogger(), 10);
    await store.open();
    const old = session('otaa', 500);
    await store.saveNow(old);
    const fresh = { ...session('otaa', -1), sid: 'after-rejoin' };
    await store.saveNow(fresh);
    store.markDirty(old); // a late write from before the join
    await store.flush();
    const loaded = (await store.loadSessions()).get('otaa')!;
    assert.equal(loaded.sid, 'after-rejoin');
    assert.equal(loaded.fCntUp, -1);
    await store.close();
  });

  it('refuses a DevNonce the second time, per device, across reopening', async () => {
    const dir = mkdtempSync(join(root, 'c-'));
    const store = new SessionStore(dir, silentLogger());
    await store.open();
    assert.equal(await store.useNonce('0004a30b001c0530', 0x0101, 1), true);
    assert.equal(await store.useNonce('0004a30b001c0530', 0x0101, 2), false);
    assert.equal(await store.useNonce('0004a30b001c0531', 0x0101, 3), true, 'another device may use the same value');
    await store.close();
    const again = new SessionStore(dir, silentLogger());
    await again.open();
    assert.equal(await again.useNonce('0004a30b001c0530', 0x0101, 4), false);
    assert.equal(await again.noncesUsed('0004a30b001c0530'), 1);
    await again.close();
  });

  it('says plainly when another process holds the store', async () => {
    const dir = mkdtempSync(join(root, 'd-'));
    const first = new SessionStore(dir, silentLogger());
    await first.open();
    const second = new SessionStore(dir, silentLogger());
    await assert.rejects(second.open(), /in use by another fieldproof process/);
    await first.close();
  });
});

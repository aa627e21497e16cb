import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vectors } from '../testdata/vectors.ts';
import { SimulatedNode } from '../simulator.ts';
import { Cmac } from './crypto.ts';
import { joinRequestMicValid as ownMicValid, parseUplink, type JoinRequestFrame } from './frame.ts';
import { buildJoinAccept, deriveSessionKeys, joinRequestMicValid, loraPacket } from './join.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('OTAA', () => {
  for (const v of vectors.joinVectors) {
    it(`JoinRequest MIC of ${v.id} verifies with its AppKey and not with another`, () => {
      assert.equal(joinRequestMicValid(hex(v.phyPayloadHex), hex(v.appKey)), v.micValid);
      assert.equal(joinRequestMicValid(hex(v.phyPayloadHex), Buffer.alloc(16, 7)), false);
      const f = parseUplink(hex(v.phyPayloadHex)) as JoinRequestFrame;
      assert.equal(ownMicValid(f, new Cmac(hex(v.appKey))), v.micValid);
    });
  }

  it('a JoinAccept opens on the device side and both sides derive the same keys', () => {
    const appKey = '2b7e151628aed2a6abf7158809cf4f3c';
    const node = SimulatedNode.otaa({ devEui: '0004a30b001c0530', joinEui: '70b3d57ed0000000', appKey });
    const req = parseUplink(node.joinRequest(0x1234)) as JoinRequestFrame;
    assert.equal(req.devNonce, 0x1234);
    const appNonce = hex('a1b2c3');
    const netId = hex('000013');
    const accept = buildJoinAccept({ appKey: hex(appKey), appNonce, netId, devAddr: hex('26000001'), dlSettings: 0, rxDelay: 1 });
    assert.equal(accept.length, 17);
    assert.equal(accept[0], 0x20);
    const server = deriveSessionKeys(hex(appKey), netId, appNonce, req.devNonce);
    const device = node.acceptJoin(accept);
    assert.equal(device.devAddr, '26000001');
    assert.equal(device.nwkSKey, server.nwkSKey.toString('hex'));
    assert.equal(device.appSKey, server.appSKey.toString('hex'));
    assert.notEqual(device.nwkSKey, device.appSKey);
  });

  it('a JoinAccept under another AppKey is refused by the device', () => {
    const node = SimulatedNode.otaa({ devEui: '0004a30b001c0530', joinEui: '70b3d57ed0000000', appKey: '2b7e151628aed2a6abf7158809cf4f3c' });
    node.joinRequest();
    const accept = buildJoinAccept({ appKey: Buffer.alloc(16, 9), appNonce: hex('000001'), netId: hex('000000'), devAddr: hex('00000001'), dlSettings: 0, rxDelay: 1 });
    assert.throws(() => node.acceptJoin(accept), /MIC/);
  });

  it('session keys follow the LoRaWAN 1.0 derivation (checked against a direct AES computation)', async () => {
    const { createCipheriv } = await import('node:crypto');
    const appKey = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const keys = deriveSessionKeys(appKey, hex('000013'), hex('a1b2c3'), 0x1234);
    const block = (type: number) => Buffer.from([type, 0xc3, 0xb2, 0xa1, 0x13, 0x00, 0x00, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0]);
    const enc = (b: Buffer) => {
      const c = createCipheriv('aes-128-ecb', appKey, null);
      c.setAutoPadding(false);
      return c.update(b).toString('hex');
    };
    assert.equal(keys.nwkSKey.toString('hex'), enc(block(1)));
    assert.equal(keys.appSKey.toString('hex'), enc(block(2)));
    assert.ok(loraPacket);
  });
});

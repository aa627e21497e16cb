import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vectors } from '../testdata/vectors.ts';
import { sessionCrypto, UP } from './crypto.ts';
import { buildDataDown, buildDataFrame, parseUplink, type DataFrame, type JoinRequestFrame } from './frame.ts';
import { loraPacket } from './join.ts';

const hex = (s: string) => Buffer.from(s, 'hex');
const nwk = '44024241ed4ce9a68c6a8bc055233fd3';
const app = 'ec925802ae430ca77fd3dd73cb2cc588';

describe('parseUplink', () => {
  it('reads the header fields of a data uplink', () => {
    const f = parseUplink(hex('40F17DBE4900020001954378762B11FF0D')) as DataFrame;
    assert.equal(f.kind, 'data');
    assert.equal(f.devAddr, 0x49be7df1);
    assert.equal(f.fCnt16, 2);
    assert.equal(f.fPort, 1);
    assert.equal(f.frmPayload.toString('hex'), '95437876');
    assert.equal(f.mic, 0x2b11ff0d);
    assert.equal(f.msg.length, 13);
  });

  it('reads FOpts and the ADR bit', () => {
    const f = parseUplink(hex(vectors.dataVectors.find((v) => v.id === 'brocaar-hello')!.phyPayloadHex)) as DataFrame;
    assert.equal(f.fCtrl & 0x80, 0x80);
    assert.equal(f.fOpts.length, 0);
  });

  it('reads JoinRequests with EUIs most significant byte first', () => {
    for (const v of vectors.joinVectors) {
      const f = parseUplink(hex(v.phyPayloadHex)) as JoinRequestFrame;
      assert.equal(f.kind, 'join-request');
      assert.equal(f.joinEui, v.joinEUI_msb);
      assert.equal(f.devEui, v.devEUI_msb);
      assert.equal(f.devNonce, hex(v.devNonceWireHex).readUInt16LE(0));
      assert.equal(f.mic.toString(16).padStart(8, '0'), v.mic);
    }
  });

  it('gives a reason for everything that is not a well-formed uplink', () => {
    assert.equal(parseUplink(Buffer.alloc(0)), 'too_short');
    assert.equal(parseUplink(hex('40f17dbe49000200')), 'too_short');
    assert.equal(parseUplink(hex('41f17dbe4900020001954378762b11ff0d')), 'unsupported_major');
    assert.equal(parseUplink(hex('40f17dbe490f020001954378762b11ff0d')), 'bad_fopts_length');
    assert.equal(parseUplink(hex('40f17dbe4901020003000000000011ff0d')), 'fopts_with_port_0');
    assert.equal(parseUplink(hex('0039363463336913aa0569357432383133')), 'bad_join_request_length');
    assert.equal(parseUplink(hex('c0' + '00'.repeat(20))), 'rejoin_not_supported');
    assert.equal(parseUplink(hex('e0' + '00'.repeat(20))), 'proprietary');
    assert.equal(parseUplink(hex('60f17dbe4920020001f9d65d27')), 'downlink_frame');
  });
});

describe('building data frames', () => {
  const keys = sessionCrypto(hex(nwk), hex(app));

  it('builds the published ACK downlink byte for byte', () => {
    const v = vectors.dataVectors.find((x) => x.id === 'lora-packet-downlink-ack')!;
    const phy = buildDataDown({ devAddr: 0x49be7df1, fCnt32: 2, ack: true, fPort: 1 }, keys);
    assert.equal(phy.toString('hex'), v.phyPayloadHex);
  });

  it('builds the same uplinks as lora-packet, beyond 16-bit counters too', () => {
    for (const [fCnt, confirmed, payload, fPort] of [
      [0, false, 'test', 1], [7, true, '', 10], [65535, false, 'x'.repeat(40), 2], [65536 + 12, false, '03670110', 3], [0x12345678, true, 'hello', 200],
    ] as const) {
      const ours = buildDataFrame(UP, { devAddr: 0x26011bda, fCnt32: fCnt, confirmed, fPort, payload: Buffer.from(payload) }, keys);
      const msb = Buffer.alloc(2);
      msb.writeUInt16LE(Math.floor(fCnt / 0x10000));
      const theirs = loraPacket.fromFields(
        { MType: confirmed ? 'Confirmed Data Up' : 'Unconfirmed Data Up', DevAddr: hex('26011bda'), FCnt: fCnt & 0xffff, FPort: fPort, payload: Buffer.from(payload) },
        hex(app), hex(nwk), undefined, msb,
      ).getPHYPayload()!;
      assert.equal(ours.toString('hex'), theirs.toString('hex'), `fCnt ${fCnt}`);
    }
  });

  it('refuses what a frame cannot hold', () => {
    assert.throws(() => buildDataDown({ devAddr: 1, fCnt32: 0, fOpts: Buffer.alloc(16) }, keys), /15 bytes/);
    assert.throws(() => buildDataDown({ devAddr: 1, fCnt32: 0, payload: Buffer.from('x') }, keys), /FPort/);
  });
});

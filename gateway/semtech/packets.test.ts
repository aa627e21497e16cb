import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeAck, encodeGatewayDatagram, encodePullResp, isBase64, parsePushData, parseTxAck, PULL_ACK, PULL_DATA, PULL_RESP, PUSH_ACK,
  PUSH_DATA, readHeader, rxpkProblem, TX_ACK,
} from './packets.ts';

const EUI = 'aa555a0000000101';
const rx = { tmst: 3512348611, chan: 2, rfch: 0, freq: 866.349812, stat: 1, modu: 'LORA', datr: 'SF7BW125', codr: '4/6', rssi: -35, lsnr: 5.1, size: 4, data: 'dGVzdA==' };

describe('Semtech UDP datagrams', () => {
  it('reads the header of gateway datagrams', () => {
    assert.deepEqual(readHeader(encodeGatewayDatagram(PUSH_DATA, 0xbeef, EUI, { rxpk: [] })), { version: 2, token: 0xbeef, ident: PUSH_DATA });
    assert.deepEqual(readHeader(encodeGatewayDatagram(PULL_DATA, 1, EUI)), { version: 2, token: 1, ident: PULL_DATA });
    assert.deepEqual(readHeader(encodeGatewayDatagram(TX_ACK, 2, EUI, undefined, 1)), { version: 1, token: 2, ident: TX_ACK });
  });

  it('names what is wrong with a datagram that is not one', () => {
    assert.equal(readHeader(Buffer.from([2, 0])), 'truncated');
    assert.equal(readHeader(Buffer.from([2, 0, 1, 0, 1, 2])), 'truncated');
    assert.equal(readHeader(Buffer.from([3, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8])), 'bad_version');
    assert.equal(readHeader(Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8])), 'bad_version');
    assert.equal(readHeader(Buffer.from([2, 0, 1, 9, 1, 2, 3, 4, 5, 6, 7, 8])), 'unknown_identifier');
    assert.equal(readHeader(encodeAck(2, 5, PUSH_ACK)), 'server_identifier');
    assert.equal(readHeader(Buffer.concat([encodeGatewayDatagram(PULL_DATA, 1, EUI), Buffer.from('{}')])), 'pull_data_length');
  });

  it('encodes acks and PULL_RESP as the protocol lays them out', () => {
    assert.deepEqual([...encodeAck(2, 0x1234, PUSH_ACK)], [2, 0x12, 0x34, PUSH_ACK]);
    assert.deepEqual([...encodeAck(1, 0xffff, PULL_ACK)], [1, 0xff, 0xff, PULL_ACK]);
    const resp = encodePullResp(2, 7, { imme: true, freq: 869.525, rfch: 0, powe: 14, modu: 'LORA', datr: 'SF12BW125', codr: '4/5', ipol: true, size: 4, data: 'dGVzdA==' });
    assert.deepEqual([...resp.subarray(0, 4)], [2, 0, 7, PULL_RESP]);
    assert.equal(JSON.parse(resp.subarray(4).toString()).txpk.freq, 869.525);
  });

  it('parses PUSH_DATA bodies, keeping good packets and naming the bad ones', () => {
    const body = parsePushData(Buffer.from(JSON.stringify({
      rxpk: [rx, { ...rx, stat: -1 }, { ...rx, data: '-DS4CGaDCdG+48eJNM3Vai-zDpsR71Pn9CPA9uCON84' }, { ...rx, size: 9 }, { ...rx, modu: 'FSK', datr: 50000 }, 7],
      stat: { time: '2014-01-12 08:59:28 GMT', rxnb: 2, rxok: 2, rxfw: 2, ackr: 100, dwnb: 2, txnb: 2 },
    })));
    assert.ok(typeof body === 'object');
    assert.equal(body.rxpk.length, 2);
    assert.deepEqual(body.rejected, ['crc_failed', 'bad_base64', 'size_mismatch', 'rxpk_not_object']);
    assert.equal(body.stat?.rxnb, 2);
  });

  it('keeps of a stat only the fields the protocol defines, whatever else the datagram holds', () => {
    const junk = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'x'.repeat(8)]));
    const body = parsePushData(Buffer.from(JSON.stringify({ stat: { ...junk, time: 'T'.repeat(1000), rxnb: 3, ackr: 'lots', lati: 46.2 } })));
    assert.ok(typeof body === 'object');
    assert.deepEqual(body.stat, { time: 'T'.repeat(64), rxnb: 3, lati: 46.2 });
  });

  it('refuses PUSH_DATA bodies that cannot be used at all', () => {
    assert.equal(parsePushData(Buffer.alloc(0)), 'missing_json');
    assert.equal(parsePushData(Buffer.from('{"rxpk":[')), 'bad_json');
    assert.equal(parsePushData(Buffer.from('[1]')), 'json_not_object');
    assert.equal(parsePushData(Buffer.from('{}')), 'no_rxpk_or_stat');
    assert.equal(parsePushData(Buffer.from('{"rxpk":{}}')), 'rxpk_not_array');
  });

  it('checks every rxpk field the server relies on', () => {
    const bad: [object, string][] = [
      [{ ...rx, stat: 2 }, 'bad_crc_status'],
      [{ ...rx, data: undefined }, 'missing_data'],
      [{ ...rx, data: '' }, 'bad_base64'],
      [{ ...rx, freq: -1 }, 'bad_freq'],
      [{ ...rx, datr: 'SF13BW125' }, 'bad_datr'],
      [{ ...rx, modu: 'OOK' }, 'bad_modu'],
      [{ ...rx, rssi: '-35' }, 'bad_rssi'],
      [{ ...rx, lsnr: null }, 'bad_lsnr'],
      [{ ...rx, tmst: 2 ** 32 }, 'bad_tmst'],
      [{ ...rx, size: 1.5 }, 'bad_size'],
    ];
    for (const [p, reason] of bad) assert.equal(rxpkProblem(p), reason, JSON.stringify(p));
    assert.equal(rxpkProblem(rx), null);
    const { size: _, ...noSize } = rx;
    assert.equal(rxpkProblem(noSize), null, 'size is optional');
  });

  it('accepts standard Base64 with or without padding, nothing else', () => {
    for (const s of ['dGVzdA==', 'dGVzdA', 'QPF9vkkAAgABlUN4disR/w0=', 'AAAA']) assert.ok(isBase64(s), s);
    for (const s of ['', 'a', 'dGVzdA=', 'dG Vz', 'dGVz_A==', 'dGVzdA===']) assert.ok(!isBase64(s), s);
  });

  it('reads TX_ACK errors; no JSON means scheduled', () => {
    assert.equal(parseTxAck(Buffer.alloc(0)), 'NONE');
    assert.equal(parseTxAck(Buffer.from('{"txpk_ack":{"error":"NONE"}}')), 'NONE');
    assert.equal(parseTxAck(Buffer.from('{"txpk_ack":{"error":"TOO_LATE"}}')), 'TOO_LATE');
    assert.equal(parseTxAck(Buffer.from('{"txpk_ack":{"error":"ON_FIRE"}}')), 'UNKNOWN');
    assert.equal(parseTxAck(Buffer.from('{"txpk_ack":')), 'BAD_JSON');
    assert.equal(parseTxAck(Buffer.from('{"txpk_ack":{"warn":"TX_POWER"}}')), 'NONE');
  });
});

// The LoRaWAN vectors of testdata/lorawan-vectors.json (published test cases of lora-packet and
// brocaar/lorawan, re-verified independently), typed for the tests.
import { readFileSync } from 'node:fs';

export interface DataVector {
  id: string;
  phyPayloadHex: string;
  mtype: string;
  devAddr: string;
  fCnt: number;
  fPort: number;
  nwkSKey: string;
  appSKey?: string;
  mic?: string;
  micValid: boolean;
  expectedPlaintextHex?: string;
}

export interface JoinVector {
  id: string;
  phyPayloadHex: string;
  appKey: string;
  joinEUI_msb: string;
  devEUI_msb: string;
  devNonceWireHex: string;
  mic: string;
  micValid: boolean;
}

export interface CayenneExample {
  hex: string;
  decoded: { channel: number; value: number | Record<string, number> }[];
}

export const vectors = JSON.parse(readFileSync(new URL('./lorawan-vectors.json', import.meta.url), 'utf8')) as {
  dataVectors: DataVector[];
  joinVectors: JoinVector[];
  cayenneLppExamples: CayenneExample[];
};

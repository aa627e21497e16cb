import { Aptos, AptosConfig, Network } from '@aptos-labs/ts-sdk';

/**
 * An SDK client for one node URL. The SDK prints a note on stdout when given a custom network;
 * stdout carries JSON contracts here (verify --json) and pino logs, so the note is held back.
 */
export function aptosClient(node: string): Aptos {
  const info = console.info;
  console.info = () => undefined;
  try {
    return new Aptos(new AptosConfig({ network: Network.CUSTOM, fullnode: node.replace(/\/+$/, ''), clientConfig: { http2: false } }));
  } finally {
    console.info = info;
  }
}

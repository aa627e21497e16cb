// Where the demo sends Sparkplug B. A first look should show it working without any setup, and
// without needing any service: the broker given (--sparkplug URL, or FIELDPROOF_DEMO_SPARKPLUG),
// none when that is `off`, else a mosquitto of the demo's own on a free loopback port when
// mosquitto is installed (stopped with the demo), else none, saying how to get it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startMosquitto, type Broker } from '../../bench/local-mosquitto.ts';

export interface SparkplugTarget {
  /** the broker's URL, or null: no Sparkplug */
  url: string | null;
  /** one line for the terminal: where Sparkplug goes, and how to watch it */
  note: string;
  stop(): Promise<void>;
}

export const SPARKPLUG_ENV = 'FIELDPROOF_DEMO_SPARKPLUG';

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

export async function sparkplugTarget(given: string | undefined, group: string, node: string): Promise<SparkplugTarget> {
  const none = async () => undefined;
  const where = `(group ${group}, edge node ${node})`;
  const asked = given ?? process.env[SPARKPLUG_ENV];
  if (asked === 'off') return { url: null, note: 'Sparkplug B: off', stop: none };
  if (asked !== undefined && asked !== '') return { url: asked, note: `Sparkplug B to ${asked} ${where}`, stop: none };
  if (!onPath('mosquitto')) {
    return { url: null, note: `Sparkplug B: off (no broker given and no mosquitto installed; --sparkplug mqtt://HOST:1883 or ${SPARKPLUG_ENV} sends it to yours)`, stop: none };
  }
  let broker: Broker;
  try {
    broker = await startMosquitto();
  } catch (err) {
    return { url: null, note: `Sparkplug B: off (a local mosquitto did not start: ${(err as Error).message.split('\n')[0]})`, stop: none };
  }
  return {
    url: broker.url,
    note: `Sparkplug B to ${broker.url} ${where}, a mosquitto the demo started on loopback; watch: mosquitto_sub -h 127.0.0.1 -p ${broker.port} -t 'spBv1.0/#' -v`,
    stop: () => broker.stop(),
  };
}

// The far end for `fieldproof bench drivers`, run as a child process so that the bench measures the
// drivers' CPU apart from the simulated devices'. Told over IPC what to start, it answers with the TCP
// ports and serial paths, and on "stop" with its own CPU time.
import { Ion7550Simulator } from '../drivers/ion7550/simulator.ts';
import { Mhz19Simulator } from '../drivers/mhz19/simulator.ts';
import { PtyPair } from '../drivers/serial/pty-pair.ts';

export type SimulatorRequest = { start: { meters: number; sensors: number } } | { stop: true };
export type SimulatorReply = { ready: { tcpPorts: number[]; serialPaths: string[] } } | { stopped: { cpuUserMs: number; cpuSystemMs: number; wallMs: number } };

const meters: Ion7550Simulator[] = [];
const sensors: Mhz19Simulator[] = [];
const pairs: PtyPair[] = [];
let started = 0;
let cpuAtStart = process.cpuUsage();

function send(msg: SimulatorReply): void {
  process.send?.(msg);
}

process.on('message', async (msg: SimulatorRequest) => {
  if ('start' in msg) {
    for (let i = 0; i < msg.start.meters; i++) {
      const m = new Ion7550Simulator({ unitId: 100, tcp: { port: 0 }, powerKw: 20 + i });
      await m.start();
      meters.push(m);
    }
    for (let i = 0; i < msg.start.sensors; i++) {
      const pair = await PtyPair.open();
      pairs.push(pair);
      const s = new Mhz19Simulator({ path: pair.peerPath, co2Ppm: 420 + i * 10 });
      await s.start();
      sensors.push(s);
    }
    started = Date.now();
    cpuAtStart = process.cpuUsage();
    send({ ready: { tcpPorts: meters.map((m) => m.tcpPort), serialPaths: pairs.map((p) => p.devicePath) } });
  } else if ('stop' in msg) {
    const cpu = process.cpuUsage(cpuAtStart);
    const wallMs = Date.now() - started;
    await Promise.all([...meters.map((m) => m.stop()), ...sensors.map((s) => s.stop())]);
    await Promise.all(pairs.map((p) => p.dispose()));
    send({ stopped: { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, wallMs } });
    process.disconnect();
  }
});

// the parent went away without saying stop: clean up anyway
process.on('disconnect', () => {
  void Promise.all([...meters.map((m) => m.stop()), ...sensors.map((s) => s.stop()), ...pairs.map((p) => p.dispose())]).then(() => process.exit(0));
});

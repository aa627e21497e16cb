// What the probe and calibration verbs print when a device cannot be read: one line, naming the
// problem and what to check, distinct for a wrong port, no answer and a garbled answer.
import { CommandFailure } from '../../kernel/command.ts';
import { asReadError } from '../../drivers/poll/errors.ts';
import { listPorts } from '../../drivers/serial/serial-line.ts';

const HINTS: Record<string, string> = {
  timeout: 'check the wiring (TX to RX, A/B on RS-485), power, baud rate and unit id',
  bad_checksum: 'the line is noisy or the baud rate is wrong',
  garbled: 'wrong baud rate or parity, or another device on the line',
  truncated: 'loose connection or a second program reading the port',
  modbus_exception: 'the device refused the request: check the register map and unit id',
};

/** Exit codes: 3 wrong port or unreachable, 4 no answer, 5 garbled answer, 6 refused by the device. */
const EXIT: Record<string, number> = { port_unavailable: 3, timeout: 4, bad_checksum: 5, garbled: 5, truncated: 5, modbus_exception: 6 };

export async function deviceFailure(err: unknown, serialPath?: string): Promise<CommandFailure> {
  const e = asReadError(err);
  let message = e.message;
  if (e.flag === 'port_unavailable' && serialPath && /no serial port/.test(message)) {
    const ports = await listPorts();
    message += ports.length ? `; ports found: ${ports.join(', ')}` : '';
  } else if (HINTS[e.flag]) {
    message += ` (${HINTS[e.flag]})`;
  }
  return new CommandFailure(message, EXIT[e.flag] ?? 1);
}

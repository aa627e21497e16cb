// Azure IoT Hub shared access signatures for a device: the token IoT Hub takes as the MQTT
// password. Made here from the device's key with node:crypto (no SDK): HMAC-SHA256, keyed with the
// base64-decoded key, over the url-encoded resource URI, a newline and the expiry in seconds since
// the epoch; the signature base64 and url-encoded in the token.
import { createHmac } from 'node:crypto';

export interface SasToken {
  token: string;
  /** when it stops being accepted, ms since the epoch */
  expiresAt: number;
}

/** The resource a device's token is for: `{hub}.azure-devices.net/devices/{id}`. */
export function deviceResource(hub: string, deviceId: string): string {
  return `${hub}.azure-devices.net/devices/${deviceId}`;
}

/** A token for `resource`, valid from `now` (ms) for `ttlS` seconds. `key` is base64, as IoT Hub shows it. */
export function sasToken(resource: string, key: string, now: number, ttlS: number): SasToken {
  const expiry = Math.floor(now / 1000) + ttlS;
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return { token: `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}`, expiresAt: expiry * 1000 };
}

/** Reads a shared access key as written in a key file: base64, at least 16 bytes once decoded. */
export function parseSharedAccessKey(text: string, file: string): string {
  const key = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length < 16) {
    throw new Error(`${file}: not an IoT Hub shared access key (base64, as the portal shows it)`);
  }
  return key;
}

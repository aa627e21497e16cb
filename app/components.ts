// The optional parts of the device daemon, in start order (stopped in reverse). Each part's module
// is imported only when the config has its section: a device without a gateway does not load the
// LoRaWAN code, one without an uplink not the HTTP client, one without alerts not MQTT.
import type { ComponentFactory } from './daemon-context.ts';
import type { DeviceConfig } from './config/device-config.ts';

/** The factory in `load`'s module, called only when `section` is in the config. */
function when(section: keyof DeviceConfig, load: () => Promise<ComponentFactory>): ComponentFactory {
  return async (ctx) => (ctx.config[section] === undefined ? null : (await load())(ctx));
}

export const componentFactories: ComponentFactory[] = [
  // first: its assessor must be in place before any source emits
  when('validation', async () => (await import('../models/validation.ts')).createValidation),
  when('gateway', async () => (await import('../gateway/component.ts')).createGateway),
  when('uplink', async () => (await import('../runtime/uplink/component.ts')).uplinkComponent),
  when('alerts', async () => (await import('../runtime/alerts/alerts.ts')).createAlerts),
  // last: its page shows what the others publish
  when('http', async () => (await import('../runtime/http/component.ts')).localHttpFactory),
];

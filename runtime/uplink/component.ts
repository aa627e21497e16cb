// The uplink as a part of the device daemon: present when the config has an `uplink:` section.
import type { ComponentFactory } from '../../app/daemon-context.ts';
import { Uplink } from './uplink.ts';

export const uplinkComponent: ComponentFactory = (ctx) =>
  ctx.config.uplink
    ? new Uplink({ journal: ctx.journal, config: ctx.config.uplink, device: ctx.config.device, log: ctx.log.child({ part: 'uplink' }), metrics: ctx.metrics, board: ctx.board })
    : null;

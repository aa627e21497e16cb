// The optional parts of the device daemon, in start order (stopped in reverse). Each factory
// returns null when its config section is absent.
import type { ComponentFactory } from './component.ts';
import { localHttpFactory } from './http/component.ts';
import { createGateway } from '../gateway/component.ts';
import { uplinkComponent } from './uplink/component.ts';
import { createValidation } from '../models/validation.ts';
import { createAlerts } from './alerts/alerts.ts';

export const componentFactories: ComponentFactory[] = [
  createValidation, // first: its assessor must be in place before any source emits
  createGateway,
  uplinkComponent,
  createAlerts,
  localHttpFactory, // last: its page shows what the others publish
];

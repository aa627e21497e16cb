// The optional parts of the device daemon, in start order (stopped in reverse). Each factory
// returns null when its config section is absent.
import type { ComponentFactory } from './component.ts';
import { localHttpFactory } from './http/component.ts';

export const componentFactories: ComponentFactory[] = [
  localHttpFactory, // last: its page shows what the others publish
];

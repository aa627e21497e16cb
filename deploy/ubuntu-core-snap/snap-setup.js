#!/usr/bin/env node
// Runs snap-setup.ts for the hooks. Like bin/fieldproof.js it registers tsx itself, resolved from
// this file, so it works whatever folder snapd runs the hook in.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./snap-setup.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx, so `npx fieldproof` works right after `npm ci`
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

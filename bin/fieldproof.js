#!/usr/bin/env node
// The CLI runs the TypeScript sources through tsx, so `npx fieldproof` works right after `npm ci`
// without a build step.
import { register } from 'tsx/esm/api';

register();
// `fieldproof journal export | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

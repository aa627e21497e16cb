#!/usr/bin/env node
// The hooks' entry: runs snap-setup.ts, whose types Node strips itself.
const { main } = await import('./snap-setup.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// The CLI runs the TypeScript sources as they are: Node 24 strips the types itself, so there is no
// build step and nothing compiles at run time. This file stays JavaScript so that an older Node
// gets a clear answer instead of a loader error.
import module from 'node:module';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24 || !process.features.typescript) {
  process.stderr.write(`fieldproof: needs Node 24 or later, with type stripping; this is node ${process.version}\n`);
  process.exit(1);
}
// Node refuses to strip types in files under node_modules: say so, rather than fail on the first import.
if (import.meta.url.includes('/node_modules/')) {
  process.stderr.write('fieldproof: cannot run from inside a node_modules folder (Node does not strip types there); run it from a checkout or the snap\n');
  process.exit(1);
}
// V8's code cache and Node's type-stripped sources, kept between runs (in $NODE_COMPILE_CACHE, else
// the temp folder): a restart reads them instead of parsing and stripping every file again, which
// is most of a cold start and spares the type stripper's memory.
module.enableCompileCache();
// `fieldproof journal export | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../app/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

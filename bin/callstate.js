#!/usr/bin/env node
// The compiled CLI lives in dist/: built by `npm run build` (which `npm test` and `npm pack` run); the published package ships it.
// Bundled with the package's entries (scripts/bundle-node.mjs): a served module that imports 'callstate' shares its classes.
import { main } from '../dist/bundle/cli.js';

/**
 * Exits with `code` once what was written has gone out. The command is done: a handle still open must not keep it
 * running (nats.js leaves open a connection whose server never sent INFO, until that server closes it).
 */
function exit(code) {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}

main(process.argv.slice(2)).then(exit, (error) => {
  // main() reports its own errors; this is the last resort, still one line.
  process.stderr.write(`callstate: ${error instanceof Error ? error.message : String(error)}\n`);
  exit(4);
});

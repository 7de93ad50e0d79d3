#!/usr/bin/env node
// The compiled CLI lives in dist/: built by `npm run build` (which `npm test` and `npm pack` run); the published package ships it.
// Bundled with the package's entries (scripts/bundle-node.mjs): a served module that imports 'callstate' shares its classes.
import { main } from '../dist/bundle/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // main() reports its own errors; this is the last resort, still one line.
    process.stderr.write(`callstate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 4;
  },
);

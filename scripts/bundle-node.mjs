#!/usr/bin/env node
/**
 * The last step of `npm run build`: bundles what `tsc` wrote to dist/ for Node into dist/bundle/, the files the
 * package's `exports` point Node at (`callstate` and `callstate/machines`). Node loads an ES module graph file by
 * file: callstate's 117 modules, each resolved, read, parsed and linked, took about 30 ms of a 80 ms import (issue 16,
 * cold start). Bundled, they are one file per entry and the chunks they share, so that every entry sees the same
 * machines and the same error classes. Packages (ws, xstate, nanoid, NATS) stay imports of their own.
 *
 * The CLI (`bin/`) is an entry too: a module served by `callstate serve` that imports `callstate` by name gets the
 * bundle's classes, and an `RpcError` it throws must be the one the served server checks with `instanceof` (from
 * the per-module files, it was another class: its code and data were lost, answered -32603).
 *
 * The per-module files stay in dist/: the types (`.d.ts`) are there, and the browser build (`browser` condition) is
 * bundled by the user's bundler from them.
 */
import { build } from 'esbuild';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

await build({
  absWorkingDir: root,
  entryPoints: { index: 'dist/src/index.js', machines: 'dist/machines/index.js', cli: 'dist/src/tools/cli.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Class and function names stay as written (esbuild would rename one that another module's name shadows): error
  // names and stacks read them.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
});

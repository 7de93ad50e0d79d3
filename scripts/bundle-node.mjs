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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renamedDeclarations } from './bundle-names.mjs';

const root = join(import.meta.dirname, '..');

const result = await build({
  absWorkingDir: root,
  entryPoints: { index: 'dist/src/index.js', machines: 'dist/machines/index.js', cli: 'dist/src/tools/cli.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // No keepNames: it wraps every named function in `__name(fn, 'name')`, a defineProperty on each closure made at run
  // time. The closures each connection makes then held about 11 KB more of a server's heap per connection (25 KB
  // against 14 KB from the per-module files), and a call made a few more. Error names are set by the classes
  // themselves; what esbuild would rename (a function or class whose name another module's declaration, or an
  // import, has) is checked below instead, so that stacks show the names as written.
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

// A declaration esbuild renamed to keep names apart ends in a number its source name does not have: one no module it
// was bundled from declares (the name it clashed with may be another module's function or class, a variable, or a
// package's import, which the bundle does not declare).
const filesUnder = (dir) =>
  readdirSync(join(root, dir), { recursive: true })
    .filter((file) => file.endsWith('.js'))
    .map((file) => readFileSync(join(root, dir, file), 'utf8'));
const bundled = Object.keys(result.metafile.outputs)
  .filter((file) => file.endsWith('.js'))
  .map((file) => readFileSync(join(root, file), 'utf8'));
const renamed = renamedDeclarations(bundled, [...filesUnder('dist/src'), ...filesUnder('dist/machines')]);
if (renamed.length > 0) {
  console.error(
    `bundle-node: esbuild renamed ${renamed.join(', ')}: give the functions or classes whose names clash (with another module's, or an import's) names of their own`,
  );
  process.exit(1);
}

#!/usr/bin/env node
/**
 * Checks the package as users get it (run by `npm test` after the build):
 *
 *   npm pack ──► the file list (no source maps, no CLI/demo types)
 *            ──► publint --strict on the unpacked files
 *            ──► attw on the tarball (node10, node16 from CJS and ESM, bundler)
 *            ──► a fresh project installs the tarball, with no warning, then
 *                  runs an ESM round trip (serve + connect + one call), a CommonJS
 *                  `require('callstate')` round trip, one copy of each class (both entries
 *                  and require share the machines; a call's errors are the exported classes,
 *                  with their names) and the bin, and typechecks
 *                  with `skipLibCheck: false` under NodeNext, node16, bundler and node10, and a
 *                  browser project (the `browser` condition, DOM lib, no @types/node).
 *
 * The project gets `typescript` and `@types/node` at the versions installed
 * here, so npm finds everything in its cache (`--prefer-offline`). `--keep`
 * leaves the temporary directory for a look.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const bin = (name) => join(root, 'node_modules', '.bin', name);
const versionOf = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

const tmp = mkdtempSync(join(tmpdir(), 'callstate-package-'));
let step = '';

/** Runs a command; on failure prints its output and which step failed. */
/** The oldest TypeScript whose checks of the published types must pass: the README's "TypeScript ≥ 5.4". */
const OLDEST_TYPESCRIPT = '5.4.5';

function run(command, args, cwd, env = process.env) {
  try {
    return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    process.stderr.write(`${error.stdout ?? ''}${error.stderr ?? ''}`);
    throw new Error(`${step}: \`${command} ${args.join(' ')}\` failed (in ${cwd})`);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

try {
  step = 'pack';
  // npm test has just built dist/; --ignore-scripts skips prepack's second build.
  const [packed] = JSON.parse(run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], root));
  const files = packed.files.map((file) => file.path);
  const tarball = join(tmp, packed.filename);
  for (const required of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/callstate.js',
    'dist/bundle/index.js',
    'dist/bundle/machines.js',
    'dist/src/index.d.ts',
    'dist/machines/index.d.ts',
  ]) {
    check(files.includes(required), `${required} is not in the package`);
  }
  const maps = files.filter((file) => file.endsWith('.map'));
  check(maps.length === 0, `source maps pointing at unshipped sources: ${maps.join(', ')}`);
  const toolTypes = files.filter((file) => /^dist\/src\/tools\/(cli|demo)\.d\.ts$/.test(file));
  check(toolTypes.length === 0, `developer tools' types are shipped: ${toolTypes.join(', ')}`);
  check(!files.some((file) => file.startsWith('src/') || file.startsWith('test/')), 'sources or tests are shipped');

  step = 'publint';
  const unpacked = join(tmp, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], tmp);
  run(bin('publint'), ['--strict', '--pack', 'false', unpacked], root);

  step = 'attw';
  // ESM only: Node >= 20.19 loads it with require() too (require(esm)), which the round trip below shows.
  run(bin('attw'), [tarball, '--format', 'table-flipped', '--ignore-rules', 'cjs-resolves-to-esm'], root);

  step = 'install';
  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  const installed = run(
    npm,
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=warn',
      tarball,
      `typescript@${versionOf('typescript')}`,
      `@types/node@${versionOf('@types/node')}`,
      // The oldest TypeScript the README promises (the types use NoInfer, new in 5.4).
      `typescript-oldest@npm:typescript@${OLDEST_TYPESCRIPT}`,
    ],
    app,
    { ...process.env, npm_config_loglevel: 'warn' },
  );
  check(!/npm warn/i.test(installed), `npm install of the tarball warned:\n${installed}`);

  step = 'ESM import';
  const roundTrip = (load) => `${load}
const server = await serve({ port: 0, host: '127.0.0.1', methods: { add: ([a, b]) => a + b } });
const client = connect(server.url);
const sum = await client.request('add', [1, 2]);
await client.close();
await server.close();
if (sum !== 3) throw new Error('add answered ' + JSON.stringify(sum));
`;
  writeFileSync(
    join(app, 'esm.mjs'),
    roundTrip(`import { connect, serve, CallstateError } from 'callstate';
import { callMachine } from 'callstate/machines';
import pkg from 'callstate/package.json' with { type: 'json' };
if (typeof CallstateError !== 'function' || callMachine.id === undefined || pkg.name !== 'callstate') throw new Error('missing exports');`),
  );
  run(process.execPath, ['esm.mjs'], app);

  step = 'one copy of each class';
  // Both entries, the CommonJS require and the bin share one chunk: the machines are the same objects, an error a
  // call rejects with is an instance of the class exported (with its own name), and a served module's RpcError
  // keeps its code.
  writeFileSync(
    join(app, 'identity.mjs'),
    `import { createRequire } from 'node:module';
import * as callstate from 'callstate';
import * as machines from 'callstate/machines';
const { serve, connect, RemoteError, TimeoutError, ConnectionClosedError, CallstateError, RpcError } = callstate;
const fail = (message) => { throw new Error(message); };
for (const name of Object.keys(machines)) if (machines[name] !== callstate[name]) fail(name + ' differs between callstate and callstate/machines');
const required = createRequire(import.meta.url)('callstate');
for (const name of Object.keys(callstate)) if (required[name] !== callstate[name]) fail(name + ' differs between import and require');
const server = await serve({
  port: 0,
  host: '127.0.0.1',
  methods: { refuse: () => { throw new RpcError(-32010, 'no', { why: 'x' }); }, hang: () => new Promise(() => {}), bye: (_p, ctx) => void ctx.peer.close() },
});
const client = connect(server.url, { heartbeat: 0 });
const errorOf = (call) => call.then(() => fail('the call did not fail'), (error) => error);
const checks = [
  [await errorOf(client.request('refuse')), RemoteError, 'RemoteError', -32010],
  [await errorOf(client.request('hang', [], { timeout: 20 })), TimeoutError, 'TimeoutError'],
  [await errorOf(client.request('bye')), ConnectionClosedError, 'ConnectionClosedError'],
];
for (const [error, type, name, code] of checks) {
  if (!(error instanceof type) || !(error instanceof CallstateError)) fail(name + ': not an instance of the exported class: ' + error);
  if (error.name !== name || error.constructor.name !== name) fail(name + ': named ' + error.name + ' (' + error.constructor.name + ')');
  if (code !== undefined && error.code !== code) fail(name + ': code ' + error.code);
}
await client.close();
await server.close();
`,
  );
  run(process.execPath, ['identity.mjs'], app);

  step = 'CommonJS require';
  writeFileSync(
    join(app, 'cjs.cjs'),
    `const { connect, serve } = require('callstate');
const { callMachine } = require('callstate/machines');
if (callMachine === undefined) throw new Error('callstate/machines: no callMachine');
(async () => {${roundTrip('')}})().catch((error) => { console.error(error); process.exit(1); });
`,
  );
  run(process.execPath, ['--no-warnings', 'cjs.cjs'], app);

  step = 'bin';
  check(run(join(app, 'node_modules', '.bin', 'callstate'), ['--help'], app).includes('usage: callstate'), 'the bin printed no usage');

  step = 'types';
  const typed = `import { connect, serve, type Client, type ServeOptions, type Authenticate, TimeoutError } from 'callstate';
import { callMachine, type CallInput } from 'callstate/machines';

const methods = { add: ([a, b]: [number, number]) => a + b };
const options: ServeOptions = { port: 0, methods };
const allow: Authenticate = (request) => request.headers.authorization === 'Bearer x';
export async function main(): Promise<number> {
  const server = await serve({ ...options, authenticate: allow });
  const client: Client<typeof methods> = connect<typeof methods>(server.url);
  const sum: number = await client.request('add', [1, 2]);
  const input: CallInput | undefined = undefined;
  void input;
  void callMachine;
  const late: TimeoutError | undefined = undefined;
  void late;
  await client.close();
  await server.close();
  return sum;
}
`;
  writeFileSync(join(app, 'typed.ts'), typed);
  const configs = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    node16: { module: 'node16', moduleResolution: 'node16' },
    bundler: { module: 'esnext', moduleResolution: 'bundler' },
    node10: { module: 'commonjs', moduleResolution: 'node10' },
  };
  for (const [name, resolution] of Object.entries(configs)) {
    step = `types (${name})`;
    const compilerOptions = { ...resolution, target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] };
    // node10 reads the package as CommonJS: the typed file is compiled as such (its `import` becomes `require`).
    const file = name === 'node10' ? 'typed.cts' : 'typed.ts';
    if (name === 'node10') writeFileSync(join(app, file), typed);
    writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files: [file] }, null, 2));
    run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${name}.json`], app);
  }
  // A browser project: the `browser` condition's types, with the DOM's lib and no @types/node at all.
  step = 'types (browser)';
  writeFileSync(
    join(app, 'browser.ts'),
    `import { connect, TimeoutError, type Client } from 'callstate';
const client: Client = connect('wss://example.test/rpc', { timeout: 5_000, heartbeat: 0 });
export async function add(signal: AbortSignal): Promise<number | undefined> {
  try {
    return (await client.request('add', [1, 2], { signal })) as number;
  } catch (error) {
    if (error instanceof TimeoutError) return undefined;
    throw error;
  }
}
`,
  );
  const browserOptions = {
    module: 'esnext',
    moduleResolution: 'bundler',
    customConditions: ['browser'],
    lib: ['es2022', 'dom'],
    target: 'es2022',
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    types: [],
  };
  writeFileSync(join(app, 'tsconfig.browser.json'), JSON.stringify({ compilerOptions: browserOptions, files: ['browser.ts'] }, null, 2));
  run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.browser.json'], app);
  step = `types (nodenext, TypeScript ${OLDEST_TYPESCRIPT})`;
  run(process.execPath, [join(app, 'node_modules', 'typescript-oldest', 'bin', 'tsc'), '-p', 'tsconfig.nodenext.json'], app);
  console.log(
    `package ok: ${files.length} files, ${(packed.size / 1024).toFixed(0)} KB packed; publint, attw, install, ESM, CommonJS, bin, types (${Object.keys(configs).join(', ')}, browser; TypeScript ${OLDEST_TYPESCRIPT})`,
  );
} catch (error) {
  console.error(`check-package: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  if (keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

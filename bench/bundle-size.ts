/**
 * The `bundle` section of `npm run bench`: how much each system's browser
 * client weighs in a page. Each entry is bundled as a user's bundler would
 * (esbuild `--bundle --minify --format=esm --platform=browser`, importing by
 * package name, so callstate resolves through its `browser` export condition
 * to the built dist/), then gzipped (zlib's default level).
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser } from '../scripts/browser-bundle.js';

/** Each system's browser client, as a page imports it. */
export const BUNDLE_ENTRIES: Record<string, string> = {
  callstate: "export { connect } from 'callstate';",
  'socket.io-client': "export { io } from 'socket.io-client';",
  'rpc-websockets': "export { Client } from 'rpc-websockets';",
  'json-rpc-2.0': "export { JSONRPCClient } from 'json-rpc-2.0';",
  birpc: "export { createBirpc } from 'birpc';",
};

export interface BundleSize {
  /** Minified bytes. */
  minified: number;
  /** Gzipped bytes of the minified bundle. */
  gzipped: number;
  /** The largest inputs in the bundle (path, bytes in the output), for reading where the weight is. */
  largest: Array<[string, number]>;
}

const root = fileURLToPath(new URL('..', import.meta.url));

/** Bundles `contents` for the browser and measures it. */
export async function measureBundle(contents: string): Promise<BundleSize> {
  const { code, inputs } = await bundleForBrowser(contents, root);
  const largest = Object.entries(inputs)
    .map(([path, bytes]): [string, number] => [path.replace(/^.*node_modules\//, ''), bytes])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  return { minified: code.length, gzipped: gzipSync(code).length, largest };
}

/** Every system's bundle, callstate first. */
export async function measureBundles(): Promise<Record<string, BundleSize>> {
  const sizes: Record<string, BundleSize> = {};
  for (const [system, contents] of Object.entries(BUNDLE_ENTRIES)) sizes[system] = await measureBundle(contents);
  return sizes;
}

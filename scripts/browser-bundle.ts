/**
 * Bundles code for a browser page as the benchmarks and the browser example do
 * (and as issue 13 measures): esbuild `--bundle --minify --format=esm
 * --platform=browser`, so packages resolve through their `browser` conditions.
 */
import { build } from 'esbuild';

export interface BrowserBundle {
  /** The minified bundle. */
  code: Uint8Array;
  /** Each input file and how many bytes of the bundle it makes up. */
  inputs: Record<string, number>;
}

/** Bundles the module `contents`, whose imports resolve from `resolveDir`. */
export async function bundleForBrowser(contents: string, resolveDir: string): Promise<BrowserBundle> {
  const result = await build({
    stdin: { contents, resolveDir, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.values(result.metafile.outputs)[0]!.inputs;
  return {
    code: result.outputFiles[0]!.contents,
    inputs: Object.fromEntries(Object.entries(inputs).map(([path, { bytesInOutput }]) => [path, bytesInOutput])),
  };
}

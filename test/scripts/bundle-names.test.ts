import { build } from 'esbuild';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renamedDeclarations } from '../../scripts/bundle-names.mjs';

/** Bundles `modules` (name → source; `entry.js` is the entry) as bundle-node.mjs does, packages left as imports. */
async function bundle(modules: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'callstate-bundle-names-'));
  try {
    for (const [name, text] of Object.entries(modules)) await writeFile(join(dir, name), text);
    const result = await build({
      entryPoints: [join(dir, 'entry.js')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      write: false,
    });
    return result.outputFiles[0]!.text;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the Node bundle's check of names esbuild renamed", () => {
  it("finds a function renamed apart from a package's import or a variable of the same name, which the old check (a function or class of the base name) missed", async () => {
    const modules = {
      'entry.js': [
        "export { useA } from './a.js';",
        "export { createActor } from './b.js';",
        "export { useC } from './c.js';",
        "export { refuse } from './d.js';",
      ].join('\n'),
      'a.js': "import { createActor } from 'xstate';\nexport const useA = () => createActor;",
      'b.js': 'export function createActor() { return 1; }',
      'c.js': "const refuse = 'a constant';\nexport const useC = () => refuse;",
      'd.js': 'export function refuse() { return 2; }',
    };
    const bundled = await bundle(modules);
    // esbuild renamed both: one clashes with an import, the other with a variable (no function declares the base name).
    expect(bundled).toContain('function createActor2');
    expect(bundled).toContain('function refuse2');
    expect(renamedDeclarations([bundled], Object.values(modules)).sort()).toEqual(['createActor2', 'refuse2']);
  });

  it('lets pass names that end in a number as written (sha1), and a bundle nothing was renamed in', async () => {
    const modules = {
      'entry.js': "export { sha1, Base64 } from './d.js';",
      'd.js': 'export function sha1() { return 3; }\nexport class Base64 {}',
    };
    expect(renamedDeclarations([await bundle(modules)], Object.values(modules))).toEqual([]);
  });
});

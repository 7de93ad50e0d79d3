/**
 * What `bundle-node.mjs` checks of the bundle it built: esbuild (without `keepNames`) renames a top-level
 * declaration whose name another one in the same output already has (another module's function or class, a
 * variable, or a binding imported from a package), by adding a number: `createActor2`. A function or class so
 * renamed shows that name in stacks, not the one written.
 */

const DECLARATION = /\b(?:function\s*\*?|class)\s+([A-Za-z_$][\w$]*)/g;

/** The names of the functions and classes declared in `text` (a module's JavaScript). */
export function declaredNames(text) {
  return new Set(Array.from(text.matchAll(DECLARATION), (match) => match[1]));
}

/**
 * The functions and classes the `bundled` files declare under a name that no file of `sources` (the modules they
 * were bundled from) declares, and that ends in a number: the ones esbuild renamed.
 */
export function renamedDeclarations(bundled, sources) {
  const written = new Set();
  for (const text of sources) for (const name of declaredNames(text)) written.add(name);
  const renamed = new Set();
  for (const text of bundled) for (const name of declaredNames(text)) if (/\d$/.test(name) && !written.has(name)) renamed.add(name);
  return [...renamed];
}

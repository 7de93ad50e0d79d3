/** The names of the functions and classes declared in `text` (a module's JavaScript). */
export function declaredNames(text: string): Set<string>;
/** The functions and classes the `bundled` files declare under a name no file of `sources` declares, ending in a number. */
export function renamedDeclarations(bundled: string[], sources: string[]): string[];

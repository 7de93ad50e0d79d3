/**
 * Typechecks every TypeScript example in README.md, CONTRIBUTING.md and
 * docs/*.md (run by `npm test` after the build), so no example drifts from the API.
 *
 * Each ```ts block becomes a module of its own in test-artifacts/docs/, inside
 * this package, so `import … from 'callstate'` resolves to the build through
 * the package's own `exports` (as a user's project resolves it), and examples
 * may import the devDependencies (`@statelyai/inspect`). A block:
 *   - that imports nothing from 'callstate' gets `connect` and `serve` imported;
 *   - may use the names declared in `AMBIENT` below (`url`, `methods`, …) without
 *     defining them, so fragments stay short;
 *   - marks a line that must NOT compile with a trailing `// type error`
 *     (checked: it becomes `@ts-expect-error`);
 *   - opens with ```ts nocheck to be skipped (for fragments that cannot stand alone; use sparingly).
 * Fails with each error at its Markdown file and line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Block {
  /** The Markdown file, relative to the package. */
  file: string;
  /** The line of the block's first code line (1-based). */
  line: number;
  code: string;
}

/** Names examples may use without defining them. */
export const AMBIENT = `declare global {
  /** A server's URL, as \`server.url\` gives it. */
  const url: string;
  /** A secret the example's client and server share. */
  const token: string;
  /** Some methods, as \`serve({ methods })\` takes them. */
  const methods: { add: (params: [number, number]) => number };
  /** The application's own token check. */
  function isValid(token: string | string[] | undefined): Promise<boolean>;
}
export {};
`;

/** The ```ts blocks of a Markdown text, without those marked nocheck; indented fences (in lists) are dedented. */
export function extractBlocks(markdown: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ts(?:\s+(\S+))?\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++)
      body.push(lines[j]!.slice(Math.min(indent, /^\s*/.exec(lines[j]!)![0].length)));
    if (j === lines.length) throw new Error(`${file}:${i + 1}: a \`\`\`ts block that is never closed`);
    if (open[2] !== 'nocheck') blocks.push({ file, line: i + 2, code: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** The module a block becomes, with the block's line (1-based) of each module line (0 for added lines). */
export function toModule(block: Block): { text: string; lines: number[] } {
  const text: string[] = [];
  const lines: number[] = [];
  block.code.split('\n').forEach((line, index) => {
    if (/\/\/ type error\s*$/.test(line)) {
      text.push('// @ts-expect-error');
      lines.push(index + 1);
    }
    text.push(line);
    lines.push(index + 1);
  });
  text.push(/from 'callstate'/.test(block.code) ? 'export {};' : "import { connect, serve } from 'callstate'; export {};");
  lines.push(0);
  return { text: `${text.join('\n')}\n`, lines };
}

const root = join(import.meta.dirname, '..');

function markdownFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md'].filter((file) => existsSync(join(root, file)));
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) files.push(join('docs', name));
  }
  return files;
}

export function main(): number {
  if (!existsSync(join(root, 'dist', 'src', 'index.d.ts'))) {
    process.stderr.write('check-docs: no build; run `npm run build` first\n');
    return 1;
  }
  const out = join(root, 'test-artifacts', 'docs');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const blocks = markdownFiles().flatMap((file) => extractBlocks(readFileSync(join(root, file), 'utf8'), file));
  const where = new Map<string, { block: Block; lines: number[] }>();
  blocks.forEach((block, index) => {
    const name = `${String(index).padStart(3, '0')}-${block.file.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`;
    const module = toModule(block);
    where.set(name, { block, lines: module.lines });
    writeFileSync(join(out, name), module.text);
  });
  writeFileSync(join(out, 'ambient.d.ts'), AMBIENT);
  const compilerOptions = {
    target: 'es2022',
    lib: ['es2023', 'dom'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  };
  writeFileSync(join(out, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(out, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    // Point each error at the Markdown: "test-artifacts/docs/003-README-md-74.ts(9,1): error …" -> "README.md:82: error …".
    const located = output.replace(/^(?:.*[/\\])?([^/\\(]+\.ts)\((\d+),(\d+)\)/gm, (match, name: string, line: string) => {
      const found = where.get(name);
      if (found === undefined) return match;
      const inBlock = found.lines[Number(line) - 1] ?? 0;
      return inBlock === 0
        ? `${found.block.file}:${found.block.line} (the block)`
        : `${found.block.file}:${found.block.line + inBlock - 1}`;
    });
    process.stderr.write(`check-docs: examples that do not typecheck (modules kept in ${relative(root, out)}):\n${located}`);
    return 1;
  }
  rmSync(out, { recursive: true, force: true });
  console.log(`docs ok: ${blocks.length} TypeScript examples typecheck (${markdownFiles().join(', ')})`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main();

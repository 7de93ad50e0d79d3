import { describe, expect, it } from 'vitest';
import { extractBlocks, toModule } from '../../scripts/check-docs.js';

describe('check-docs: the TypeScript examples of the Markdown files', () => {
  const markdown = [
    '# Title', // 1
    '```ts', // 2
    "import { connect } from 'callstate';", // 3
    'connect(url);', // 4
    '```', // 5
    '```sh', // 6
    'npm test', // 7
    '```', // 8
    '- a list item:', // 9
    '  ```ts', // 10
    '  await serve({ methods });', // 11
    '    nested();', // 12
    '  ```', // 13
    '```ts nocheck', // 14
    'fragment(', // 15
    '```', // 16
  ].join('\n');

  it('takes each ```ts block with the line of its first code line, dedents indented fences and skips ```ts nocheck', () => {
    expect(extractBlocks(markdown, 'README.md')).toEqual([
      { file: 'README.md', line: 3, code: "import { connect } from 'callstate';\nconnect(url);" },
      { file: 'README.md', line: 11, code: 'await serve({ methods });\n  nested();' },
    ]);
  });

  it('refuses a block that is never closed, naming its line', () => {
    expect(() => extractBlocks('text\n```ts\nconst a = 1;\n', 'docs/x.md')).toThrow(
      new Error('docs/x.md:2: a ```ts block that is never closed'),
    );
  });

  it("imports connect and serve into a block that imports nothing from 'callstate', keeping its line numbers", () => {
    const [, fragment] = extractBlocks(markdown, 'README.md');
    expect(toModule(fragment!)).toEqual({
      text: "await serve({ methods });\n  nested();\nimport { connect, serve } from 'callstate'; export {};\n",
      lines: [1, 2, 0],
    });
    const [own] = extractBlocks(markdown, 'README.md');
    expect(toModule(own!).text).toBe("import { connect } from 'callstate';\nconnect(url);\nexport {};\n");
  });

  it('expects a compile error on each line that ends in `// type error`, mapping both lines to the block line', () => {
    const block = { file: 'README.md', line: 10, code: "const a = 1;\nclient.request('add', ['1', 2]);   // type error\nconst b = 2;" };
    expect(toModule(block)).toEqual({
      text: "const a = 1;\n// @ts-expect-error\nclient.request('add', ['1', 2]);   // type error\nconst b = 2;\nimport { connect, serve } from 'callstate'; export {};\n",
      lines: [1, 2, 2, 3, 0],
    });
  });
});

// Lint rules for the whole repository: typescript-eslint's recommended set, with the few
// patterns this code uses on purpose allowed (see each rule's comment). Run by `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'visualizations/**', 'bench/results/**', 'test-artifacts/**'] },
  js.configs.recommended,
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
    rules: {
      // Handlers and params are `any` where JSON-RPC carries arbitrary JSON.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // `catch {}` blocks that ignore a failure say why in a comment.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // A binding used by closures made before its one assignment (a listener set up before `await`) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
);

/**
 * The layer rules (docs/architecture.md): imports point down only. Run by `npm run lint:deps`, part of `npm test`.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import cycle: the layers are tangled.', from: {}, to: { circular: true } },
    {
      name: 'protocol-is-pure',
      severity: 'error',
      comment: 'src/protocol/ encodes and decodes JSON-RPC: it imports nothing of ours (but src/words.ts, a leaf that imports nothing).',
      from: { path: '^src/protocol/' },
      to: { path: '^(src|machines)/', pathNot: '^src/(protocol/|words\\.ts$)' },
    },
    {
      name: 'words-is-a-leaf',
      severity: 'error',
      comment: 'src/words.ts puts counts in words for every layer, the protocol and transports included: it imports nothing of ours.',
      from: { path: '^src/words\\.ts$' },
      to: { path: '^(src|machines)/' },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'machines/ defines XState machines with no I/O: it imports nothing of ours.',
      from: { path: '^machines/' },
      to: { path: '^(src|machines)/', pathNot: '^machines/' },
    },
    {
      name: 'transports-stand-alone',
      severity: 'error',
      comment:
        'A transport knows the Transport interface and its own library, nothing of the core (src/words.ts is a leaf that imports nothing).',
      from: { path: '^src/transports/' },
      to: { path: '^(src|machines)/', pathNot: '^src/(transports/|words\\.ts$)' },
    },
    {
      name: 'only-transports-touch-sockets',
      severity: 'error',
      comment: 'Only transport files import ws or a NATS client.',
      from: { path: '^(src|machines)/', pathNot: '^src/transports/' },
      to: { dependencyTypesNot: ['type-only'], path: 'node_modules/(ws|@nats-io)/' },
    },
    {
      name: 'engine-is-the-interpreter',
      severity: 'error',
      comment: 'src/engine/ interprets machines: it imports only itself and the shared types (src/types.ts).',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: '^src/(engine/|types\\.ts$)' },
    },
    {
      name: 'tools-apart',
      severity: 'error',
      comment:
        'Developer tools (CLI, demo, inspection page) sit apart: no library file imports them, except the package entry exporting the inspector API (src/tools/inspect/api.ts, which loads the page server only when called).',
      from: { path: '^src/', pathNot: '^src/tools/' },
      to: { path: '^src/tools/', pathNot: '^src/tools/inspect/api\\.ts$' },
    },
    {
      name: 'core-below-the-api',
      severity: 'error',
      comment: 'The core serves every transport: it imports no entry point (client, server, their NATS variants).',
      from: { path: '^src/core/' },
      to: { path: '^src/(client|server|nats-client|nats-server|index)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

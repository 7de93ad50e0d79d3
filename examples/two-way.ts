/**
 * Calls in both directions over one socket, with typed APIs on both sides.
 * Run: npx tsx examples/two-way.ts
 */
import { connect, serve, RemoteError } from '../src/index.js';

/** What the server offers. */
interface ServerApi {
  add(params: [number, number]): number;
  greet(params: { greeting: string }): string;
}

/** What the client offers back to the server. */
interface ClientApi {
  whoami(): string;
}

const server = await serve<ServerApi, ClientApi>({
  methods: {
    add: ([a, b]) => a + b,
    greet: async ({ greeting }, ctx) => `${greeting}, ${await ctx.peer.request('whoami')}`,
  },
});

const client = connect<ServerApi, ClientApi>(server.url, { methods: { whoami: () => 'Ada' } });
console.log('2 + 3 =', await client.request('add', [2, 3]));
console.log(await client.request('greet', { greeting: 'Hello' }));
try {
  // Untyped escape hatch: a method the server does not have.
  await (client as unknown as { request(m: string): Promise<unknown> }).request('subtract');
} catch (error) {
  if (error instanceof RemoteError) console.log(`${error.name} ${error.code}: ${error.message}`);
}
await client.close();
await server.close();

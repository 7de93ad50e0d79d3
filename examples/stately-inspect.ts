/**
 * Watching callstate in Stately's inspector. `createInspectorServer` serves a
 * page on localhost:8080 that embeds Stately's hosted inspector UI (loaded from
 * stately.ai: this needs the internet) and relays to it what the WebSocket
 * inspector sends. Install it first: npm install --save-dev @statelyai/inspect
 * Run: npx tsx examples/stately-inspect.ts, then open http://localhost:8080
 */
import { createWebSocketInspector } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { connect, serve } from '../src/index.js';

const relay = createInspectorServer({ port: 8080, autoOpen: false });
const inspector = createWebSocketInspector({ url: 'ws://localhost:8080' });

const server = await serve({ methods: { echo: async (params: unknown) => params } });
const client = connect(server.url, { inspect: inspector.inspect });
for (let n = 0; n < 20; n++) {
  await client.request('echo', { n });
  await new Promise((resolve) => setTimeout(resolve, 500));
}
await client.close();
await server.close();
inspector.stop();
relay.stop();

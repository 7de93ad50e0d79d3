/**
 * Watching calls live: the inspect option reaches the connection actor and every call actor.
 * Run: npx tsx examples/inspect.ts
 */
import { connect, serve } from '../src/index.js';

const server = await serve({ methods: { echo: (params: unknown) => params } });
const client = connect(server.url, {
  inspect: (event) => {
    if (event.type === '@xstate.snapshot' && 'value' in event.snapshot) {
      console.log(event.actorRef.sessionId, JSON.stringify(event.snapshot.value));
    }
  },
});
await client.request('echo', { n: 1 });
await client.request('echo', { n: 2 });
await client.close();
await server.close();

import { describe, expect, it } from 'vitest';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, recorder } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

describe('inspection', () => {
  it('gives the inspect observer the connection actor and every call actor, with each state change', async () => {
    const atClient = recorder();
    const atServer = recorder();
    server = await serve({ methods: { echo: (p: unknown) => p }, inspect: atServer.inspect });
    client = connect(server.url, { inspect: atClient.inspect });
    const early = client.request('echo', { n: 1 });
    await client.ready;
    await early;
    await client.request('echo', { n: 2 });
    await client.close();

    const [connection] = atClient.actorsOf('connection');
    expect(connection).toBe(client.actor);
    expect(atClient.states.get(connection!)).toEqual([{ connecting: 'opening' }, 'open', 'closing', 'closed']);

    const calls = atClient.actorsOf('call');
    expect(calls).toHaveLength(2);
    // The first call was made before the socket opened, so it waited in queued.
    expect(atClient.states.get(calls[0]!)).toEqual([
      { pending: 'queued' },
      { pending: { inFlight: 'sent' } },
      { pending: { inFlight: 'awaiting' } },
      'resolved',
    ]);
    expect(atClient.states.get(calls[1]!)).toEqual([{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'resolved']);
    // Events sent to the call actors are visible too.
    const callEvents = atClient.events.flatMap((e) => (e.type === '@xstate.event' && e.actorRef === calls[1] ? [e.event.type] : []));
    expect(callEvents).toEqual(expect.arrayContaining(['request.written', 'response.result']));

    const incoming = atServer.actorsOf('incomingCall');
    expect(incoming).toHaveLength(2);
    expect(atServer.states.get(incoming[0]!)).toEqual(['handling', 'replied']);
    expect(atServer.actorsOf('connection')).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { ActorRefLike, InspectionEvent } from 'xstate';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { closeAfterEach } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

function machineId(actor: ActorRefLike): string | undefined {
  return (actor as unknown as { logic?: { id?: string } }).logic?.id;
}

/** Collects inspection events and the sequence of state values per actor. */
function recorder() {
  const events: InspectionEvent[] = [];
  const states = new Map<ActorRefLike, unknown[]>();
  return {
    events,
    states,
    inspect: (event: InspectionEvent) => {
      events.push(event);
      if (event.type === '@xstate.snapshot') {
        const value = (event.snapshot as { value?: unknown }).value;
        const seq = states.get(event.actorRef) ?? [];
        if (JSON.stringify(seq.at(-1)) !== JSON.stringify(value)) seq.push(value);
        states.set(event.actorRef, seq);
      }
    },
    actorsOf: (id: string) => events.filter((e) => e.type === '@xstate.actor' && machineId(e.actorRef) === id).map((e) => e.actorRef),
  };
}

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
    expect(atClient.states.get(connection!)).toEqual(['connecting', 'open', 'closing', 'closed']);

    const calls = atClient.actorsOf('call');
    expect(calls).toHaveLength(2);
    // The first call was made before the socket opened, so it waited in queued.
    expect(atClient.states.get(calls[0]!)).toEqual([{ pending: 'queued' }, { pending: 'sent' }, { pending: 'awaiting' }, 'resolved']);
    expect(atClient.states.get(calls[1]!)).toEqual([{ pending: 'sent' }, { pending: 'awaiting' }, 'resolved']);
    // Events sent to the call actors are visible too.
    const callEvents = atClient.events.flatMap((e) => (e.type === '@xstate.event' && e.actorRef === calls[1] ? [e.event.type] : []));
    expect(callEvents).toEqual(expect.arrayContaining(['request.written', 'response.result']));

    const incoming = atServer.actorsOf('incomingCall');
    expect(incoming).toHaveLength(2);
    expect(atServer.states.get(incoming[0]!)).toEqual(['handling', 'replied']);
    expect(atServer.actorsOf('connection')).toHaveLength(1);
  });
});

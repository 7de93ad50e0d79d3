/**
 * Attaching Stately's inspector (@statelyai/inspect): its WebSocket inspector
 * serializes XState's inspection events and sends them to a URL. Here the URL
 * is a small relay on 127.0.0.1 that records what it receives, so the test
 * needs no internet.
 */
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { connect, RpcError, serve, TimeoutError, type Client, type Server } from '../../src/index.js';
import { abortWatcher, closeAfterEach, collectUncaught, deferred, settle, throwingProxy, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let relay: WebSocketServer | undefined;
let inspector: ReturnType<typeof createWebSocketInspector> | undefined;

/** What escaped to the process while a test ran: Stately's inspector serializes in a timer of its own and catches nothing. */
const uncaught = collectUncaught();

closeAfterEach(() => [client, server]);
afterEach(async () => {
  inspector?.stop();
  await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
  relay = inspector = undefined;
});

/** A WebSocket endpoint on loopback that keeps every event an inspector sends it. */
async function startRelay() {
  const received: StatelyInspectionEvent[] = [];
  const connected = deferred();
  relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => relay!.once('listening', resolve));
  relay.on('connection', (socket) => {
    socket.on('message', (data) => received.push(JSON.parse(data.toString()) as StatelyInspectionEvent));
    connected.resolve();
  });
  return { url: `ws://127.0.0.1:${(relay.address() as AddressInfo).port}`, received, connected: connected.promise };
}

/** The machine an `@xstate.actor` event describes: the id in its serialized definition. */
function machineOf(event: StatelyInspectionEvent): string | undefined {
  if (event.type !== '@xstate.actor') return undefined;
  return event.definition ? (JSON.parse(event.definition) as { id?: string }).id : event.name;
}

/** Runs four calls that end in each final state, through a client inspected by Stately's WebSocket inspector. */
async function inspectedCalls() {
  const { url, received, connected } = await startRelay();
  inspector = createWebSocketInspector({ url });
  // Events sent before the inspector's socket opens are buffered (200 by default); wait so none can be dropped.
  await connected;
  const watcher = abortWatcher();
  server = await serve({
    methods: {
      echo: (params: unknown) => params,
      refuse: () => {
        throw new RpcError(-32000, 'refused');
      },
      hang: watcher.handler,
    },
  });
  client = connect(server.url, { inspect: inspector.inspect });
  await client.ready;
  const outcomes = [];
  outcomes.push(await settle(client.request('echo', { n: 1 })));
  outcomes.push(await settle(client.request('refuse')));
  outcomes.push(await settle(client.request('hang', undefined, { timeout: 50 })));
  const controller = new AbortController();
  const cancelled = client.request('hang', undefined, { signal: controller.signal });
  await watcher.entered;
  // Cancel once the call is written (awaiting), as seen by the relay: the write's callback may come after the handler starts.
  const awaiting = () =>
    received.filter((e) => e.type === '@xstate.snapshot' && JSON.stringify(valueOf(e)) === '{"pending":{"inFlight":"awaiting"}}');
  await until(() => awaiting().length === 4, 'the fourth call to be awaiting', 200_000);
  controller.abort('changed my mind');
  outcomes.push(await settle(cancelled));
  await client.close();

  const byId = () => received.filter((e) => e.type === '@xstate.actor');
  // Wait until the relay has the closed connection's snapshot and four calls that ended.
  await until(
    () => {
      const connection = byId().find((e) => machineOf(e) === 'connection');
      const calls = byId().filter((e) => machineOf(e) === 'call');
      const finals = received.filter((e) => e.type === '@xstate.snapshot' && e.snapshot.status === 'done');
      return !!connection && calls.length === 4 && finals.length === 5;
    },
    'the relay to receive every event',
    200_000,
  );
  return { received, outcomes, actors: byId() };
}

/** The state value carried by a snapshot event (Stately types the snapshot as any actor's). */
const valueOf = (e: StatelyInspectionEvent & { type: '@xstate.snapshot' }) => (e.snapshot as { value?: unknown }).value;

/** The sequence of distinct `snapshot.value`s the relay received for one actor. */
function statesOf(received: StatelyInspectionEvent[], sessionId: string): unknown[] {
  const seq: unknown[] = [];
  for (const e of received) {
    if (e.type !== '@xstate.snapshot' || e.sessionId !== sessionId) continue;
    if (JSON.stringify(seq.at(-1)) !== JSON.stringify(valueOf(e))) seq.push(valueOf(e));
  }
  return seq;
}

describe('Stately inspector (@statelyai/inspect) over a WebSocket relay on loopback', () => {
  it('receives the connection actor, each call actor and every state change of a call', async () => {
    const { received, outcomes, actors } = await inspectedCalls();
    expect(outcomes[0]).toEqual({ value: { n: 1 } });
    expect(outcomes[1]!.error).toMatchObject({ name: 'RemoteError', code: -32000, message: 'refused' });
    expect(outcomes[2]!.error).toBeInstanceOf(TimeoutError);
    expect(outcomes[3]).toEqual({ error: 'changed my mind' });

    const [connection, ...otherConnections] = actors.filter((e) => machineOf(e) === 'connection');
    expect(otherConnections).toHaveLength(0);
    expect(connection!.sessionId).toBe(client!.actor.sessionId);
    expect(statesOf(received, connection!.sessionId)).toEqual([{ connecting: 'opening' }, 'open', 'closing', 'closed']);

    const calls = actors.filter((e) => machineOf(e) === 'call');
    expect(new Set(calls.map((c) => c.sessionId)).size).toBe(4);
    expect(calls.map((c) => statesOf(received, c.sessionId))).toEqual([
      [{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'resolved'],
      [{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'failed'],
      [{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'timedOut'],
      [{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'cancelled'],
    ]);
    // Each call ends 'done', and its last snapshot carries the call's context (method, id).
    for (const [i, method] of ['echo', 'refuse', 'hang', 'hang'].entries()) {
      const last = received.filter((e) => e.type === '@xstate.snapshot' && e.sessionId === calls[i]!.sessionId).at(-1);
      expect(last).toMatchObject({ snapshot: { status: 'done', context: { method } } });
    }
    // The events each call received are forwarded too.
    const eventsOfFirst = received.flatMap((e) =>
      e.type === '@xstate.event' && e.sessionId === calls[0]!.sessionId ? [e.event.type] : [],
    );
    expect(eventsOfFirst).toEqual(expect.arrayContaining(['request.written', 'response.result']));
  });

  it('reports each call actor with the connection actor as its parent', async () => {
    const { actors } = await inspectedCalls();
    const connection = actors.find((e) => machineOf(e) === 'connection')!;
    const calls = actors.filter((e) => machineOf(e) === 'call');
    expect(calls).toHaveLength(4);
    for (const call of calls) expect(call.parentId).toBe(connection.sessionId);
  });
});

describe('Stately inspector on the server side (light engine)', () => {
  it("reports each incoming call actor with the server's connection actor as its parent", async () => {
    const { url, received, connected } = await startRelay();
    inspector = createWebSocketInspector({ url });
    await connected;
    server = await serve({ methods: { echo: (params: unknown) => params }, inspect: inspector.inspect });
    client = connect(server.url);
    for (const n of [1, 2, 3]) expect(await client.request('echo', { n })).toEqual({ n });
    await client.close();
    const actors = () => received.filter((e) => e.type === '@xstate.actor');
    await until(() => actors().filter((e) => machineOf(e) === 'incomingCall').length === 3, 'three incoming calls at the relay', 200_000);
    const connections = actors().filter((e) => machineOf(e) === 'connection');
    expect(connections).toHaveLength(1);
    const calls = actors().filter((e) => machineOf(e) === 'incomingCall');
    for (const call of calls) expect(call.parentId).toBe(connections[0]!.sessionId);
    expect(new Set(calls.map((c) => c.sessionId)).size).toBe(3);
  });
});

/** A value whose getter throws: JSON.stringify and Stately's stringify both read it. */
const throwingGetter = () => ({
  get x(): never {
    throw new Error('boom');
  },
});
const cyclic = () => {
  const o: Record<string, unknown> = { n: 1 };
  o.self = o;
  return o;
};

describe.each(['light', 'xstate'] as const)('Stately inspector, given values its stringify cannot read (engine: %s)', (engine) => {
  it('shows each call of a handler that returns or throws one, and the process goes on (the caller is answered -32603)', async () => {
    const { url, received, connected } = await startRelay();
    inspector = createWebSocketInspector({ url });
    await connected;
    const methods = {
      getter: throwingGetter,
      bigint: () => 10n,
      cyclic,
      // Inside an object: returned itself, a Proxy whose traps throw rejects the handler's promise (its `then` is read).
      proxy: () => ({ inner: throwingProxy(new Error('trap')) }),
      throwsGetter: () => {
        throw throwingGetter();
      },
      throwsProxy: () => {
        throw throwingProxy(new Error('trap'));
      },
      echo: (p: unknown) => p,
      hang: abortWatcher().handler,
    };
    server = await serve({ engine, inspect: inspector.inspect, methods });
    // The client is inspected too: an abort reason is the caller's own value, kept in its call's context.
    client = connect(server.url, { engine, inspect: inspector.inspect });
    const names = ['getter', 'bigint', 'cyclic', 'proxy', 'throwsGetter', 'throwsProxy'] as const;
    const outcomes = [];
    for (const name of names) outcomes.push(await settle(client.request(name)));
    for (const outcome of outcomes) expect(outcome.error).toMatchObject({ name: 'RemoteError', code: -32603 });
    // The caller's own values: params JSON reads once (into the frame) but not again, and an abort reason.
    let reads = 0;
    const params = {
      get once() {
        if (reads++ > 0) throw new Error('read twice');
        return 1;
      },
    };
    expect(await client.request('echo', params)).toEqual({ once: 1 });
    const controller = new AbortController();
    const reason = throwingProxy(new Error('trap'));
    const aborted = client.request('hang', undefined, { signal: controller.signal });
    controller.abort(reason);
    expect((await settle(aborted)).error).toBe(reason);

    // Stately serializes each event in a timer: wait until the last snapshot of every call reached the relay, or something escaped.
    const machines = () => new Map(received.flatMap((e) => (e.type === '@xstate.actor' ? [[e.sessionId, machineOf(e)]] : [])));
    const shown = (machine: string) => {
      const ids = machines();
      const contexts: Record<string, unknown> = {};
      for (const e of received) {
        if (e.type !== '@xstate.snapshot' || e.snapshot.status !== 'done' || ids.get(e.sessionId) !== machine) continue;
        const { method, ...rest } = (e.snapshot as unknown as { context: { method: string } }).context;
        contexts[method] = rest;
      }
      return contexts;
    };
    await until(
      () => uncaught.length > 0 || (Object.keys(shown('call')).length === 8 && Object.keys(shown('incomingCall')).length >= 7),
      'every call at the relay',
      200_000,
    );
    expect(uncaught).toEqual([]);
    // Each value Stately could not read is shown as a marker; the rest as it was.
    expect(shown('incomingCall')).toMatchObject({
      getter: { result: '[unserializable: boom]' },
      bigint: { result: '[unserializable: Do not know how to serialize a BigInt]' },
      cyclic: { result: '[unserializable: Converting circular structure to JSON]' },
      proxy: { result: '[unserializable: trap]' },
      throwsGetter: { error: '[unserializable: boom]', failure: 'handlerThrew' },
      throwsProxy: { error: '[unserializable: trap]', failure: 'handlerThrew' },
      echo: { params: { once: 1 }, result: { once: 1 } },
    });
    expect(shown('call')).toMatchObject({
      getter: { error: { code: -32603 } },
      echo: { params: '[unserializable: read twice]', result: { once: 1 } },
      hang: { error: '[unserializable: trap]' },
    });
  });
});

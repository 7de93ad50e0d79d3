/**
 * `reconnectNow()`: a client waiting out its reconnect backoff tries at once (a page's "Retry now"; the browser build
 * does it on the page's `online` event). Nothing else is changed by it: it does nothing, and says so, when there is no
 * wait to end. The backoff runs on a SimulatedClock that the test never moves.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);

describe('reconnectNow()', () => {
  it('ends the backoff wait: a new attempt opens without the delay passing, and the next loss waits again', async () => {
    server = await serve({ methods: { echo: (params: unknown) => params } });
    client = connect(server.url, {
      reconnect: { initialDelay: 60_000, maxDelay: 600_000, minUptime: 0, jitter: 0 },
      clock: new SimulatedClock(),
      heartbeat: 0,
    });
    const delays: number[] = [];
    client.on('reconnecting', ({ delay }) => delays.push(delay));
    await client.ready;
    expect(client.reconnectNow()).toBe(false); // open: no wait to end
    for (const peer of server.connections) void peer.terminate();
    await until(() => client!.reconnecting, 'the loss to be seen');
    expect(client.actor.getSnapshot().value).toEqual({ connecting: 'waiting' });
    expect(client.reconnectNow()).toBe(true);
    expect(client.actor.getSnapshot().value).toEqual({ connecting: 'opening' });
    expect(client.reconnectNow()).toBe(false); // an attempt is under way
    await until(() => client!.epoch === 2 && client!.state === 'open', 'the second epoch');
    expect(await client.request('echo', { again: true })).toEqual({ again: true });
    // The attempt opened (and minUptime is 0): the count starts over, and the next loss waits the first delay again.
    for (const peer of server.connections) void peer.terminate();
    await until(() => delays.length === 2, 'the second loss');
    expect(delays).toEqual([60_000, 60_000]);
    await client.close();
    expect(client.reconnectNow()).toBe(false); // closed
  });

  it('does nothing for a client without reconnect, open or closed', async () => {
    server = await serve({ methods: {} });
    client = connect(server.url, { heartbeat: 0 });
    await client.ready;
    expect(client.reconnectNow()).toBe(false);
    await client.close();
    expect([client.reconnectNow(), client.state]).toEqual([false, 'closed']);
  });
});

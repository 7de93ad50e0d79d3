import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, type Client, type Server } from '../../src/index.js';
import { abortWatcher, closeAfterEach, rawClient, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

describe('connection loss', () => {
  it('fails every pending call at once with the close code and reason when the server closes the socket mid-call', async () => {
    let started = 0;
    server = await serve({ methods: { hang: () => (started++, new Promise(() => {})) } });
    client = connect(server.url);
    const calls = Array.from({ length: 5 }, () => settle(client!.request('hang')));
    await until(() => started === 5, 'five calls to reach the server');
    [...server.connections][0]!.close(4001, 'maintenance');
    const outcomes = await Promise.all(calls);
    for (const { error } of outcomes) {
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.code).toBe('ERR_CONNECTION_CLOSED');
      expect(error.message).toMatch(
        /^the connection to ws:\/\/127\.0\.0\.1:\d+ closed before the call settled \(code 4001, reason "maintenance"\)$/,
      );
      expect([error.closeCode, error.closeReason]).toEqual([4001, 'maintenance']);
    }
    // One error object for the one event that failed them all.
    expect(new Set(outcomes.map((o) => o.error)).size).toBe(1);
    expect(client.state).toBe('closed');
    expect(client.pendingCalls).toBe(0);
  });

  it('fails pending calls with code 1006 when the server process is killed', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/server-process.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [url] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      client = connect(url);
      expect(await client.request('echo', { alive: true })).toEqual({ alive: true });
      const pending = [settle(client.request('hang')), settle(client.request('hang'))];
      // Answered after them on the same socket: both are written and awaiting. (Killed sooner, a call whose write
      // meets the reset fails as not written, ECONNRESET as its cause, before the close is seen.)
      expect(await client.request('echo', { after: true })).toEqual({ after: true });
      expect(client.pendingCalls).toBe(2);
      child.kill('SIGKILL');
      for (const { error } of await Promise.all(pending)) {
        expect(error).toBeInstanceOf(ConnectionClosedError);
        expect(error.closeCode).toBe(1006);
        expect(error.message).toMatch(/closed before the call settled \(code 1006\)/);
      }
      expect(client.state).toBe('closed');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects requests after close() immediately, and notify() throws', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    await client.ready;
    await client.close();
    const { error } = await settle(client.request('echo', {}));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/^cannot call "echo": the connection to ws:\/\/127\.0\.0\.1:\d+ is closed$/);
    expect(() => client!.notify('log', {})).toThrow(ConnectionClosedError);
  });

  it('fails calls still pending when the client closes, before the close handshake ends', async () => {
    server = await serve({ methods: { hang: () => new Promise(() => {}) } });
    client = connect(server.url);
    const call = settle(client.request('hang'));
    await until(() => client!.pendingCalls === 1 && client!.state === 'open', 'the call to be in flight');
    const closed = client.close();
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/was closed locally$/);
    await closed;
    expect(client.state).toBe('closed');
  });

  it("aborts the handler's ctx.signal when the caller disconnects", async () => {
    const { handler, entered, aborted } = abortWatcher();
    server = await serve({ methods: { wait: handler } });
    client = connect(server.url);
    const call = settle(client.request('wait'));
    await entered;
    await client.close();
    expect(await aborted).toBe(true);
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    await until(() => server!.connections.size === 0, 'the server to drop the connection');
  });

  it('closes with 1009 when a frame exceeds maxPayload, failing the calls on that socket', async () => {
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    expect(await client.request('echo', { small: true })).toEqual({ small: true });
    const { error } = await settle(client.request('echo', { big: 'x'.repeat(2_000) }));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1009);
    expect(error.message).toMatch(/closed before the call settled \(code 1009\)$/);
  });

  it('server.close() drops a client that never finishes the close handshake', async () => {
    server = await serve({ closeTimeout: 50, methods: {} });
    const raw = await rawClient(server.url);
    await until(() => server!.connections.size === 1, 'the server to see the client');
    // Stop reading: the client will never see the close frame, so never answer it.
    (raw.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    await server.close();
    expect(server.connections.size).toBe(0);
    raw.socket.terminate();
  });
});

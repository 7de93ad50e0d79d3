/**
 * Errors that settle a call later (a deadline, a close) show the stack of the
 * caller's line that made the call, not callstate's timer or socket handlers.
 */
import { describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, TimeoutError, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);

/** `file:line` of the line that calls this, as stacks in this file show it. */
function thisLine(): string {
  const frame = new Error().stack!.split('\n')[2]!;
  return frame.match(/(errors-stack\.test\.ts:\d+):\d+/)![1]!;
}

const idle = () => new Promise(() => {});

describe('the stack of a call that fails after it was made', () => {
  it('is captured only with callSiteStacks (off by default: it costs about 3 µs a call), and the option is checked', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { idle } });
    client = connect(server.url);
    const [call, line] = [settle(client.request('idle', {}, { timeout: 50 })), thisLine()]; // one line: the call's
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.stack).not.toContain(`${line}:`);
    expect(() => connect(server!.url, { callSiteStacks: 'yes' as never })).toThrow(
      new TypeError('options.callSiteStacks must be a boolean, got "yes"'),
    );
  });

  it("has no frames by default: those of callstate's timer or socket handler are not captured (several µs an error)", async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { idle, fail: () => Promise.reject(new Error('no')) } });
    client = connect(server.url);
    const timedOut = await settle(client.request('idle', {}, { timeout: 50 }));
    const remote = await settle(client.request('fail'));
    expect(timedOut.error).toBeInstanceOf(TimeoutError);
    expect(remote.error.name).toBe('RemoteError');
    for (const { error } of [timedOut, remote]) expect(error.stack).toBe(`${error.name}: ${error.message}`);
  });

  it('rejects with TimeoutError whose stack names the line that made the call', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { idle } });
    client = connect(server.url, { callSiteStacks: true });
    await client.ready;
    const [call, line] = [settle(client.request('idle', {}, { timeout: 50 })), thisLine()]; // one line: the call's
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect([error.name, error.code, error.message]).toEqual([
      'TimeoutError',
      'ERR_CALL_TIMEOUT',
      expect.stringMatching(/^call "idle" \(id .+\) got no response within 50 ms$/),
    ]);
    const lines = (error.stack as string).split('\n');
    expect(lines[0]).toBe(`TimeoutError: ${error.message}`);
    expect(error.stack).toContain(`${line}:`);
    // No frame of the deadline timer that fired it.
    expect(error.stack).not.toMatch(/deadlines\.ts|actor\.ts/);
  });

  it('rejects with ConnectionClosedError whose stack names the line that made the call, when the connection closes', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { idle } });
    client = connect(server.url, { callSiteStacks: true });
    await client.ready;
    const [call, line] = [settle(client.request('idle')), thisLine()]; // one line: the call's
    await until(() => [...server!.connections][0]?.handlingCalls === 1, 'the server to take the call');
    await client.close();
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.name, error.code]).toEqual(['ConnectionClosedError', 'ERR_CONNECTION_CLOSED']);
    expect((error.stack as string).split('\n')[0]).toBe(`ConnectionClosedError: ${error.message}`);
    expect(error.stack).toContain(`${line}:`);
  });

  it("leaves an abort reason as the caller's own", async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { idle } });
    client = connect(server.url, { callSiteStacks: true });
    const reason = new Error('changed my mind');
    const stack = reason.stack;
    const controller = new AbortController();
    const call = settle(client.request('idle', {}, { signal: controller.signal }));
    controller.abort(reason);
    const { error } = await call;
    expect(error).toBe(reason);
    expect(error.stack).toBe(stack);
  });
});

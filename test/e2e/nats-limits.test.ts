/**
 * A NATS responder applies the limits a WebSocket server applies, with the
 * same defaults and the same answers, against a real nats-server; and an
 * answer nats-server will not carry (past its max_payload) is replaced by a
 * -32603 that says so, instead of leaving the caller to time out.
 */
import { describe, expect, it } from 'vitest';
import { connect, serve, ErrorCodes, RemoteError, type Client, type NatsServer } from '../../src/index.js';
import { closeAfterEach, deferred, settle } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let responder: NatsServer | undefined;
let subjects = 0;
const nextSubject = () => `limits.svc${++subjects}`;

closeAfterEach(() => {
  const items = [client, responder];
  client = responder = undefined;
  return items;
});

/** Publishes `text` to `subject` as a request and parses the answer. */
const request = (subject: string, text: string) =>
  nats.raw.request(subject, new TextEncoder().encode(text), { timeout: 5_000 }).then((msg) => JSON.parse(msg.string()));

const call = (id: number, method = 'echo') => ({ jsonrpc: '2.0', id, method, params: [] });

describe('a NATS responder', () => {
  it('answers a batch longer than maxBatch (default 100) with one -32600 and runs none of it', async () => {
    const subject = nextSubject();
    let ran = 0;
    responder = await serve({ nats: nats.url, subject, methods: { echo: () => ++ran } });
    const answer = await request(subject, JSON.stringify(Array.from({ length: 101 }, (_, i) => call(i))));
    expect(answer).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ErrorCodes.InvalidRequest, message: 'batch of 101 messages exceeds 100 (maxBatch)' },
    });
    expect(ran).toBe(0);
  });

  it('answers a request nested deeper than maxDepth (default 64) with -32600', async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p } });
    const deep = '['.repeat(70) + ']'.repeat(70);
    const answer = await request(subject, `{"jsonrpc":"2.0","id":1,"method":"echo","params":${deep}}`);
    expect(answer.error).toEqual({ code: ErrorCodes.InvalidRequest, message: 'frame nested deeper than 64 levels (maxDepth)' });
  });

  it('answers calls beyond maxInFlightPerConnection -32000 busy, unrun, and runs them again once there is room', async () => {
    const subject = nextSubject();
    const release = deferred<string>();
    let ran = 0;
    responder = await serve({ nats: nats.url, subject, maxInFlightPerConnection: 2, methods: { wait: () => (ran++, release.promise) } });
    client = connect(nats.url, { subject });
    const running = [client.request('wait'), client.request('wait')];
    await expect.poll(() => responder!.handlingCalls).toBe(2);
    const { error } = await settle(client.request('wait'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data]).toEqual([
      ErrorCodes.ServerBusy,
      'server busy: 2 calls already in flight on this connection (maxInFlightPerConnection); "wait" was not run',
      { maxInFlightPerConnection: 2 },
    ]);
    expect(ran).toBe(2);
    release.resolve('done');
    expect(await Promise.all(running)).toEqual(['done', 'done']);
    expect(await client.request('wait')).toBe('done');
  });

  it('answers a call that would pass maxInFlightBytesPerConnection -32000 busy, unrun, and runs calls again once there is room', async () => {
    const subject = nextSubject();
    const release = deferred<string>();
    let ran = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      maxInFlightBytesPerConnection: 1000,
      methods: { wait: () => (ran++, release.promise) },
    });
    client = connect(nats.url, { subject });
    const running = client.request('wait', ['x'.repeat(600)]);
    await expect.poll(() => responder!.handlingCalls).toBe(1);
    const { error } = await settle(client.request('wait', ['x'.repeat(600)]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.data]).toEqual([ErrorCodes.ServerBusy, { maxInFlightBytesPerConnection: 1000 }]);
    expect(ran).toBe(1);
    release.resolve('done');
    expect(await running).toBe('done');
    expect(await client.request('wait', ['x'.repeat(600)])).toBe('done');
  });

  it('fails a handler past handlerTimeout with -32001 and aborts its signal', async () => {
    const subject = nextSubject();
    const aborted = deferred<string>();
    responder = await serve({
      nats: nats.url,
      subject,
      handlerTimeout: 50,
      methods: {
        hang: (_p: unknown, ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason.name))),
      },
    });
    client = connect(nats.url, { subject });
    const { error } = await settle(client.request('hang'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message]).toEqual([ErrorCodes.HandlerTimeout, 'method "hang" did not finish within 50 ms (handlerTimeout)']);
    expect(await aborted.promise).toBe('TimeoutError');
  });

  it("answers -32603 when the answer is larger than nats-server's max_payload, instead of leaving the caller to time out", async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, methods: { huge: () => 'x'.repeat(2 * 1024 * 1024), echo: (p: unknown) => p } });
    client = connect(nats.url, { subject, timeout: 5_000 });
    const { error } = await settle(client.request('huge'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(ErrorCodes.InternalError);
    expect(error.message).toMatch(/^the answer \(\d+ characters\) could not be published: .*max_payload/);
    expect(await client.request('echo', ['still up'])).toEqual(['still up']);
  });

  it('refuses bad limit options with TypeError and RangeError, as serve() over WebSocket does', async () => {
    await expect(serve({ nats: nats.url, subject: nextSubject(), maxBatch: 0, methods: {} })).rejects.toThrow(RangeError);
    await expect(serve({ nats: nats.url, subject: nextSubject(), handlerTimeout: 'soon' as never, methods: {} })).rejects.toThrow(
      TypeError,
    );
  });
});

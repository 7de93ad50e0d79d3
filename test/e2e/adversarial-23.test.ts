/**
 * Adversarial review 23 of the session's changes, end to end: `connect()`'s refusal of options that have no effect over
 * the URL's transport reads the scheme as the socket does (a wss:// URL the URL parser takes, with leading spaces or a
 * tab in its scheme, is still wss://, and takes `tls`), and a nats:// URL in another case ('NATS://') as serve() does; a middleware's `next()` queued before it refused with a thenable
 * that rejects at once runs no handler, in an HTTP batch and for a NATS notification; the default handlerTimeout of
 * NATS requests and notifications, against the largest handlerTimeout, a batch and a draining close. SimulatedClock:
 * no outcome waits on real time.
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, RpcError, serve, type Middleware } from '../../src/index.js';
import { orHang, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';
import { selfSignedCert } from '../tls-cert.js';

const { cert, key } = selfSignedCert();
/** What each test opened, closed after it: the client first, then the server, then the https.Server under it. */
const opened: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** An https.Server on 127.0.0.1 with `serve()` on its path /rpc, answering ping; its port. */
async function wssServer(): Promise<number> {
  const app = createServer({ cert, key });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  opened.push(() => new Promise((resolve) => app.close(resolve)));
  const server = await serve({ server: app, path: '/rpc', methods: { ping: () => 'pong' } });
  opened.push(() => server.close());
  return (app.address() as AddressInfo).port;
}

describe('connect() reads a wss:// URL as the socket does when it refuses options', () => {
  it.each([
    ['leading spaces', (port: number) => `  wss://127.0.0.1:${port}/rpc`],
    ['a tab in its scheme', (port: number) => `w\tss://127.0.0.1:${port}/rpc`],
    ['an upper-case scheme', (port: number) => `WSS://127.0.0.1:${port}/rpc`],
  ])('takes tls for a wss:// URL with %s, and calls over TLS with it', async (_what, url) => {
    const client = connect(url(await wssServer()), { tls: { ca: cert } });
    opened.push(() => client.close());
    expect(await client.request('ping')).toBe('pong');
  });

  it('still refuses tls for a ws:// URL with leading spaces', () => {
    expect(() => connect('  ws://127.0.0.1:9999/rpc', { tls: { ca: cert } })).toThrow(
      new TypeError('options.tls applies to wss:// URLs only (a ws:// connection has no TLS)'),
    );
  });
});

const nats = useNatsServer();
let subjects = 0;
/** A handler that never settles and never reads its signal. */
const never = () => new Promise(() => {});

describe('a next() queued before its middleware refused with a thenable that rejects at once, end to end', () => {
  /** Refuses method "bad" with such a thenable, after queueing next(); runs the rest for every other method. */
  const refuseBad: Middleware = (ctx, next) => {
    if (ctx.method !== 'bad') return next();
    queueMicrotask(() => void next().catch(() => {}));
    return { then: (_resolve: unknown, reject: (reason: unknown) => void) => reject(new RpcError(-32003, 'refused')) };
  };
  const late = (i: number) => `next() called by middleware ${i} (options.use[${i}]) after it had returned or thrown: nothing more runs`;

  it('HTTP: in a batch, the refused call and notification run no handler; the other call is answered', async () => {
    const ran: string[] = [];
    const reported: string[] = [];
    const s = await serve({
      port: 0,
      host: '127.0.0.1',
      use: [async (_ctx, next) => next(), refuseBad],
      onError: (error, info) => void reported.push(`${info.kind}: ${(error as Error).message}`),
      methods: { bad: () => void ran.push('bad'), good: () => (ran.push('good'), 'ok') },
    });
    opened.push(() => s.close());
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'bad' },
      { jsonrpc: '2.0', id: 2, method: 'good' },
      { jsonrpc: '2.0', method: 'bad' },
    ];
    const response = await fetch(s.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(await response.json()).toEqual([
      { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'refused' } },
      { jsonrpc: '2.0', id: 2, result: 'ok' },
    ]);
    await until(() => reported.length === 4, 'the refusals and misuses reported');
    expect(reported.sort()).toEqual([`handler: ${late(1)}`, 'handler: refused', `notification: ${late(1)}`, 'notification: refused']);
    expect(ran).toEqual(['good']);
  });

  it('NATS: a refused notification runs no handler', async () => {
    const ran: string[] = [];
    const reported: string[] = [];
    const r = await serve({
      nats: nats.url,
      subject: `adv23.svc${++subjects}`,
      use: [refuseBad],
      onError: (error) => void reported.push((error as Error).message),
      methods: { bad: () => void ran.push('bad') },
    });
    opened.push(() => r.close());
    nats.raw.publish(r.subject, JSON.stringify({ jsonrpc: '2.0', method: 'bad' }));
    await until(() => reported.length === 2, 'the refusal and the misuse reported');
    expect(reported.sort()).toEqual([
      'next() called by middleware 0 (options.use[0]) after the call was answered: nothing more runs',
      'refused',
    ]);
    expect(ran).toEqual([]);
  });
});

describe('the default handlerTimeout of a NATS responder (10,000 ms for what carries no caller timeout)', () => {
  async function responder(options: { handlerTimeout?: number }, clock: SimulatedClock) {
    const r = await serve({ nats: nats.url, subject: `adv23.svc${++subjects}`, methods: { never }, clock, ...options });
    opened.push(() => r.close());
    return r;
  }

  it('handlerTimeout at its largest (2^31-1) stands in place of it for a plain caller: not cut at 10 s', async () => {
    const clock = new SimulatedClock();
    const r = await responder({ handlerTimeout: 2_147_483_647 }, clock);
    const answer = nats.raw.request(r.subject, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'never' }), { timeout: 60_000 });
    await until(() => r.handlingCalls === 1, 'the call running');
    clock.increment(10_000);
    clock.increment(1_000_000_000);
    expect(r.handlingCalls).toBe(1);
    clock.increment(2_147_483_647 - 1_000_010_000);
    expect(JSON.parse((await orHang(answer, 'the -32001 answer')).string())).toMatchObject({ id: 1, error: { code: -32001 } });
    expect(r.handlingCalls).toBe(0);
  });

  it('a batch of notifications whose handlers never settle: each aborted past 10 s, none counted after', async () => {
    const clock = new SimulatedClock();
    const r = await responder({}, clock);
    nats.raw.publish(r.subject, JSON.stringify([1, 2, 3].map(() => ({ jsonrpc: '2.0', method: 'never' }))));
    await until(() => r.handlingCalls === 3, 'the notifications running');
    clock.increment(9_999);
    expect(r.handlingCalls).toBe(3);
    clock.increment(1);
    await until(() => r.handlingCalls === 0, 'the notifications no longer counted');
  });

  it('close({ drain: 30000 }) with such a notification running ends once the default has aborted it', async () => {
    const clock = new SimulatedClock();
    const r = await responder({}, clock);
    nats.raw.publish(r.subject, JSON.stringify({ jsonrpc: '2.0', method: 'never' }));
    await until(() => r.handlingCalls === 1, 'the notification running');
    const closing = r.close({ drain: 30_000 });
    await new Promise((resolve) => setImmediate(resolve));
    clock.increment(10_000);
    await orHang(closing, 'the close, within the drain window');
    expect(r.handlingCalls).toBe(0);
  });
});

describe('connect() takes a nats:// URL whose scheme is in another case, as serve({ nats }) does', () => {
  it.each([
    ['NATS://', (url: string) => url.replace(/^nats:/, 'NATS:')],
    ['Nats://', (url: string) => url.replace(/^nats:/, 'Nats:')],
    ['leading spaces', (url: string) => `  ${url}`],
  ])('%s: calls the responder of its subject', async (_what, odd) => {
    const r = await serve({ nats: odd(nats.url), subject: `adv23.svc${++subjects}`, methods: { ping: () => 'pong' } });
    opened.push(() => r.close());
    const client = connect(odd(nats.url), { subject: r.subject, timeout: 5_000 });
    opened.push(() => client.close());
    expect(await client.request('ping')).toBe('pong');
  });
});

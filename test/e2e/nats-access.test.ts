/**
 * The access options of `serve()` on a NATS responder, against a real
 * nats-server: there is no upgrade to refuse, so each message is checked from
 * the NATS headers its caller sent (`connect('nats://…', { headers })`), and a
 * refused request is answered -32003 and never run.
 */
import { describe, expect, it } from 'vitest';
import {
  connect,
  serve,
  ConnectionClosedError,
  ErrorCodes,
  RemoteError,
  type Client,
  type NatsServer,
  type UpgradeRequest,
} from '../../src/index.js';
import { closeAfterEach, settle } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let clients: Client[] = [];
let responder: NatsServer | undefined;
let subjects = 0;
const nextSubject = () => `access.svc${++subjects}`;

closeAfterEach(() => {
  const items = [...clients, responder];
  clients = [];
  responder = undefined;
  return items;
});

const client = (subject: string, headers?: Record<string, string>) => {
  const made = connect(nats.url, { subject, timeout: 5_000, ...(headers ? { headers } : {}) });
  clients.push(made);
  return made;
};

/** A responder whose access check never ends (counting how many it started), with `limits`, and a caller of it. */
async function hangingChecks(limits: { maxInFlightPerConnection?: number; maxInFlightBytesPerConnection?: number }) {
  const subject = nextSubject();
  let checks = 0;
  responder = await serve({
    nats: nats.url,
    subject,
    ...limits,
    closeTimeout: 200,
    authenticate: () => (checks++, new Promise<boolean>(() => {})),
    methods: { echo: (p: unknown) => p },
  });
  return { caller: client(subject), checks: () => checks };
}

describe('a NATS responder with authenticate', () => {
  it('runs the calls of a caller it accepts, sees its headers, and answers a refused one -32003 without running it', async () => {
    const subject = nextSubject();
    const seen: UpgradeRequest[] = [];
    let ran = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      authenticate: (request) => (
        seen.push(request),
        request.headers.authorization === 'Bearer good' || { status: 403, reason: 'account suspended' }
      ),
      methods: { add: ([a, b]: [number, number]) => (ran++, a + b) },
    });
    expect(await client(subject, { Authorization: 'Bearer good' }).request('add', [1, 2])).toBe(3);
    expect(seen[0]).toEqual({ headers: { authorization: 'Bearer good' }, url: subject, remoteAddress: undefined });

    const { error } = await settle(client(subject, { Authorization: 'Bearer bad' }).request('add', [1, 2]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data]).toEqual([
      ErrorCodes.AccessDenied,
      'access denied (403): account suspended',
      { status: 403 },
    ]);
    const anonymous = await settle(client(subject).request('add', [1, 2]));
    expect([anonymous.error.code, anonymous.error.message]).toEqual([ErrorCodes.AccessDenied, 'access denied (403): account suspended']);
    expect(ran).toBe(1);
  });

  it('refuses with 401 when the hook says false and 500 when it throws', async () => {
    const subject = nextSubject();
    responder = await serve({
      nats: nats.url,
      subject,
      authenticate: ({ headers }) => {
        if (headers['x-boom']) throw new Error('database down');
        return false;
      },
      methods: { echo: (p: unknown) => p },
    });
    const denied = await settle(client(subject).request('echo', {}));
    expect(denied.error.message).toBe('access denied (401): Unauthorized');
    const broken = await settle(client(subject, { 'X-Boom': '1' }).request('echo', {}));
    expect(broken.error.message).toBe('access denied (500): authentication failed');
  });

  it('handles the messages of one caller in the order they came, even when checks finish out of order', async () => {
    const subject = nextSubject();
    const order: number[] = [];
    let checks = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      // The first check is the slowest.
      authenticate: () => new Promise((resolve) => setTimeout(() => resolve(true), ++checks === 1 ? 50 : 0)),
      methods: { note: ([n]: [number]) => (order.push(n), n) },
    });
    const caller = client(subject);
    await caller.ready;
    expect(await Promise.all([1, 2, 3].map((n) => caller.request('note', [n])))).toEqual([1, 2, 3]);
    expect(order).toEqual([1, 2, 3]);
  });

  it('lets no refused caller cancel the calls of another', async () => {
    const subject = nextSubject();
    const ids: Array<string | number> = [];
    let aborted = false;
    responder = await serve({
      nats: nats.url,
      subject,
      authenticate: ({ headers }) => headers.authorization === 'Bearer good',
      methods: {
        wait: (_p: unknown, ctx) => {
          ids.push(ctx.id!);
          return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))));
        },
      },
    });
    const controller = new AbortController();
    const call = settle(client(subject, { Authorization: 'Bearer good' }).request('wait', {}, { signal: controller.signal }));
    await expect.poll(() => ids.length).toBe(1);
    const intruder = client(subject);
    await intruder.ready;
    intruder.notify('$/cancelRequest', { id: ids[0] });
    // The intruder's next request is refused: by then its cancel has been checked too.
    expect((await settle(intruder.request('wait'))).error.code).toBe(ErrorCodes.AccessDenied);
    expect([aborted, responder.handlingCalls]).toEqual([false, 1]);
    controller.abort();
    await expect.poll(() => aborted).toBe(true);
    expect((await call).error).toBeDefined();
  });
});

describe('a NATS responder whose authenticate is slow or hangs', () => {
  it('refuses a message whose check takes longer than authenticateTimeout (408), and serves the callers after it', async () => {
    const subject = nextSubject();
    responder = await serve({
      nats: nats.url,
      subject,
      authenticateTimeout: 100,
      authenticate: ({ headers }) => (headers['x-who'] === 'slow' ? new Promise<boolean>(() => {}) : true),
      methods: { echo: (p: unknown) => p },
    });
    const slow = settle(client(subject, { 'X-Who': 'slow' }).request('echo', [1]));
    const good = client(subject, { 'X-Who': 'good' }).request('echo', [2]);
    const { error } = await slow;
    expect([error.code, error.message, error.data]).toEqual([
      ErrorCodes.AccessDenied,
      'access denied (408): authenticate did not answer within 100 ms (authenticateTimeout)',
      { status: 408 },
    ]);
    expect(await good).toEqual([2]);
  });

  it('answers busy at once past maxInFlightPerConnection messages waiting for their checks, holding nothing more', async () => {
    const { caller, checks } = await hangingChecks({ maxInFlightPerConnection: 2 });
    const held = [settle(caller.request('echo', [1])), settle(caller.request('echo', [2]))];
    await expect.poll(checks).toBe(2);
    const { error } = await settle(caller.request('echo', [3]));
    expect([error.code, error.message]).toEqual([
      ErrorCodes.ServerBusy,
      'server busy: 2 calls already in flight on this connection (maxInFlightPerConnection); "echo" was not run',
    ]);
    expect(checks()).toBe(2);
    await responder!.close();
    responder = undefined;
    for (const { error: failed } of await Promise.all(held)) expect(failed).toBeDefined();
  });

  it('answers busy at once past maxInFlightBytesPerConnection of messages waiting for their checks, holding nothing more', async () => {
    const { caller, checks } = await hangingChecks({ maxInFlightBytesPerConnection: 1000 });
    const held = settle(caller.request('echo', ['x'.repeat(600)]));
    await expect.poll(checks).toBe(1);
    // The first message's 600-odd characters wait for its check: 600 more would pass 1,000.
    const { error } = await settle(caller.request('echo', ['x'.repeat(600)]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.data]).toEqual([ErrorCodes.ServerBusy, { maxInFlightBytesPerConnection: 1000 }]);
    expect(error.message).toMatch(/ more would pass 1000 \(maxInFlightBytesPerConnection\); "echo" was not run$/);
    expect(checks()).toBe(1);
    // The first call's check never ends: closing the caller fails it at once.
    await caller.close();
    expect((await held).error).toBeInstanceOf(ConnectionClosedError);
  });

  it('refuses, busy, a request whose check ends while the responder closes, and never runs it', async () => {
    const subject = nextSubject();
    let release!: (ok: boolean) => void;
    let ran = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      authenticate: () => new Promise<boolean>((resolve) => (release = resolve)),
      methods: { echo: (p: unknown) => (ran++, p) },
    });
    const call = settle(client(subject).request('echo', [1]));
    await expect.poll(() => release !== undefined).toBe(true);
    const closing = responder.close();
    release(true);
    const { error } = await call;
    expect([error.code, error.message]).toEqual([ErrorCodes.ServerBusy, 'server closing: no new calls are accepted; "echo" was not run']);
    await closing;
    responder = undefined;
    expect(ran).toBe(0);
  });
});

describe('cancellation over NATS with several responders', () => {
  it('reaches the responder running each call when many calls time out in the same tick', async () => {
    const subject = nextSubject();
    let started = 0;
    let aborted = 0;
    const wait = (_p: unknown, ctx: { signal: AbortSignal }) =>
      new Promise((_, reject) => (started++, ctx.signal.addEventListener('abort', () => (aborted++, reject(new Error('aborted'))))));
    const second = await serve({ nats: nats.url, subject, methods: { wait } });
    responder = await serve({ nats: nats.url, subject, methods: { wait } });
    try {
      const caller = client(subject);
      await caller.ready;
      const calls = Array.from({ length: 20 }, () => settle(caller.request('wait', {}, { timeout: 300 })));
      await expect.poll(() => started).toBe(20);
      for (const { error } of await Promise.all(calls)) expect(error.code).toBe('ERR_CALL_TIMEOUT');
      await expect.poll(() => aborted).toBe(20);
      expect(responder.handlingCalls + second.handlingCalls).toBe(0);
    } finally {
      await second.close();
    }
  });
});

describe('a NATS responder with origins', () => {
  it("refuses a caller whose Origin header is not listed, and one without unless 'none' is", async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, origins: ['https://app.example'], methods: { echo: (p: unknown) => p } });
    expect(await client(subject, { Origin: 'https://app.example' }).request('echo', [1])).toEqual([1]);
    const other = await settle(client(subject, { Origin: 'https://evil.example' }).request('echo', [1]));
    expect(other.error.message).toBe('access denied (403): origin https://evil.example is not allowed');
    const none = await settle(client(subject).request('echo', [1]));
    expect(none.error.message).toBe('access denied (403): no Origin header');
  });

  it('rejects bad access options and bad headers with TypeError', async () => {
    await expect(serve({ nats: nats.url, subject: nextSubject(), authenticate: 'yes' as never, methods: {} })).rejects.toThrow(TypeError);
    expect(() => connect(nats.url, { subject: 's', headers: { a: 1 as never } })).toThrow(
      new TypeError('options.headers.a must be a string, got number 1'),
    );
  });
});

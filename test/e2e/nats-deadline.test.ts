/**
 * Over NATS a responder sees no connection of its caller close: a caller that crashes, or whose connection to
 * nats-server drops, never sends the `$/cancelRequest` its timeout would, and its call's handler ran on for nobody
 * (bounded only by a `handlerTimeout`, which has no default). So callstate's client publishes each request with its
 * timeout in its reply subject (`<inbox>.<call id>~<ms>`), and a responder aborts the handler once that long has
 * passed since it got the request: the caller's deadline reaches the other side without a message of its own.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ErrorCodes, type Client, type HandlerContext, type NatsServer } from '../../src/index.js';
import { closeAfterEach, deferred, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let responder: NatsServer | undefined;
let subjects = 0;
const nextSubject = () => `deadline.svc${++subjects}`;

closeAfterEach(() => {
  const items = [client, responder];
  client = responder = undefined;
  return items;
});

/** A method that runs until its `ctx.signal` aborts, recording the reason; `started` once it runs. */
function untilAborted() {
  const started = deferred<HandlerContext>();
  const reasons: unknown[] = [];
  const hang = (_params: unknown, ctx: HandlerContext) =>
    new Promise((_resolve, reject) => {
      started.resolve(ctx);
      ctx.signal.addEventListener('abort', () => {
        reasons.push(ctx.signal.reason);
        reject(ctx.signal.reason);
      });
    });
  return { hang, started: started.promise, reasons };
}

let inboxes = 0;
/** Publishes a request with the reply subject `<a fresh inbox>.<id>~<timeout>`, as callstate's client makes them; resolves with the answer. */
function rawRequest(subject: string, id: number | string, timeout: string): Promise<any> {
  const inbox = `_INBOX.deadline${++inboxes}`;
  return new Promise((resolve) => {
    nats.raw.subscribe(`${inbox}.>`, { max: 1, callback: (_error, msg) => resolve(JSON.parse(msg.string())) });
    // Subscribed at nats-server before the request goes, so that no answer can come before it.
    void nats.raw.flush().then(() =>
      nats.raw.publish(subject, JSON.stringify({ jsonrpc: '2.0', id, method: 'hang', params: [] }), {
        reply: `${inbox}.${id}~${timeout}`,
      }),
    );
  });
}

describe("a call's timeout reaches a NATS responder", () => {
  it("is sent in each request's reply subject, after the call id and a ~: the call's timeout in ms (less what it waited)", async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p } });
    const replies: string[] = [];
    const watcher = nats.raw.subscribe(subject, { callback: (_error, msg) => void replies.push(msg.reply ?? '') });
    await nats.raw.flush();
    // A clock of its own that never moves: what a request carries is its timeout less the time it waited before it
    // was published (for the connection to open), none here.
    client = connect(nats.url, { subject, timeout: 4_000, clock: new SimulatedClock() });
    await client.request('echo', []);
    await client.request('echo', [], { timeout: 1_234 });
    await until(() => replies.length === 2, 'both requests seen');
    watcher.unsubscribe();
    expect(replies).toHaveLength(2);
    expect(replies[0]).toMatch(/^_INBOX\.\w+\.[\w-]{21}~4000$/);
    expect(replies[1]).toMatch(/^_INBOX\.\w+\.[\w-]{21}~1234$/);
  });

  it("aborts the handler of a caller gone without a cancel once the caller's timeout has passed", async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const { hang, started, reasons } = untilAborted();
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang } });
    // The caller's clock does not move: its request carries all of its timeout.
    client = connect(nats.url, { subject, timeout: 5_000, clock: new SimulatedClock() });
    void client.request('hang', []).catch(() => {});
    await started;
    // Gone at once, as a crashed process is: no $/cancelRequest is sent.
    await client.terminate();
    clock.increment(4_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reasons).toEqual([]);
    clock.increment(1);
    await until(() => reasons.length === 1, 'the handler aborted');
    expect(reasons[0]).toMatchObject({
      name: 'TimeoutError',
      message: `method "hang" did not finish within 5000 ms (the caller's timeout)`,
    });
    await until(() => responder!.handlingCalls === 0, 'the call to end');
  });

  it('answers a raw caller -32001 past the timeout in its reply subject, and keeps the shorter of it and handlerTimeout', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const { hang, started } = untilAborted();
    responder = await serve({ nats: nats.url, subject, clock, handlerTimeout: 300, methods: { hang } });
    const ask = (timeout: string) => rawRequest(subject, 1, timeout);
    const short = ask('100');
    await started;
    clock.increment(100);
    expect((await short).error).toEqual({
      code: ErrorCodes.HandlerTimeout,
      message: `method "hang" did not finish within 100 ms (the caller's timeout)`,
      data: { method: 'hang', timeout: 100 },
    });
    const long = ask('1000');
    await until(() => responder!.handlingCalls === 1, 'the second call running');
    clock.increment(300);
    expect((await long).error).toMatchObject({ code: ErrorCodes.HandlerTimeout, data: { method: 'hang', handlerTimeout: 300 } });
  });

  it('sends a timeout with a fraction of a ms rounded up, so that the reply subject keeps its tokens and a cancel finds its call', async () => {
    const subject = nextSubject();
    const { hang, started, reasons } = untilAborted();
    responder = await serve({ nats: nats.url, subject, methods: { hang } });
    const replies: string[] = [];
    const watcher = nats.raw.subscribe(subject, { callback: (_error, msg) => void replies.push(msg.reply ?? '') });
    await nats.raw.flush();
    // The caller's clock does not move: its request carries all of its timeout.
    client = connect(nats.url, { subject, clock: new SimulatedClock() });
    const controller = new AbortController();
    // A '.' in the reply subject would start another token: the responder would take `<inbox>.<id>~2000` for the
    // caller's inbox, and the cancel (its reply subject `<inbox>._`) would name another caller.
    const call = client.request('hang', [], { timeout: 2_000.5, signal: controller.signal });
    call.catch(() => {});
    await started;
    await until(() => replies.length === 1, 'the request seen');
    watcher.unsubscribe();
    expect(replies[0]).toMatch(/^_INBOX\.\w+\.[\w-]{21}~2001$/);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => reasons.length === 1, 'the handler aborted by the cancel');
    expect(reasons[0]).toMatchObject({ name: 'AbortError' });
  });

  it('ignores a timeout in the reply subject that is no whole number of ms from 1 to 2^31 - 1: such a request has the default handlerTimeout', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang: () => new Promise(() => {}) } });
    const values = ['0', '-5', '15x', 'soon', '99999999999'];
    const answers = values.map((value) => rawRequest(subject, value, value));
    await until(() => responder!.handlingCalls === 5, 'every call running');
    clock.increment(9_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(responder.handlingCalls).toBe(5);
    // Past the default handlerTimeout of a request that carries no timeout (one read as 2^31 - 1 would still run).
    clock.increment(1);
    expect((await Promise.all(answers)).map((answer) => answer.error)).toEqual(
      values.map(() => ({
        code: ErrorCodes.HandlerTimeout,
        message: 'method "hang" did not finish within 10000 ms (handlerTimeout)',
        data: { method: 'hang', handlerTimeout: 10_000 },
      })),
    );
    expect(responder.handlingCalls).toBe(0);
  });
});

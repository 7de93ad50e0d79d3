/**
 * Over NATS a responder sees no connection of its caller close: a caller that crashes, or whose connection to
 * nats-server drops, never sends the `$/cancelRequest` its timeout would, and its call's handler ran on for nobody
 * (bounded only by a `handlerTimeout`, which has no default). So callstate's client publishes each request with its
 * timeout (`Callstate-Timeout`, in ms), and a responder aborts the handler once that long has passed since it got
 * the request: the caller's deadline reaches the other side without a message of its own.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
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

describe("a call's timeout reaches a NATS responder", () => {
  it('is sent with each request as Callstate-Timeout, the call timeout in ms', async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, methods: { seen: (_p: unknown, ctx: HandlerContext) => ctx.connection.headers } });
    client = connect(nats.url, { subject, timeout: 4_000, headers: { 'x-team': 'blue' } });
    expect(await client.request('seen', [])).toMatchObject({ 'callstate-timeout': '4000', 'x-team': 'blue' });
    expect(await client.request('seen', [], { timeout: 1_234 })).toMatchObject({ 'callstate-timeout': '1234' });
  });

  it("aborts the handler of a caller gone without a cancel once the caller's timeout has passed", async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const { hang, started, reasons } = untilAborted();
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang } });
    client = connect(nats.url, { subject, timeout: 5_000 });
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

  it('answers a raw caller -32001 past the Callstate-Timeout it sent, and keeps the shorter of it and handlerTimeout', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const { hang, started } = untilAborted();
    responder = await serve({ nats: nats.url, subject, clock, handlerTimeout: 300, methods: { hang } });
    const ask = (timeout: string) => {
      const h = natsHeaders();
      h.set('Callstate-Timeout', timeout);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hang', params: [] });
      return nats.raw.request(subject, body, { timeout: 5_000, headers: h }).then((msg) => JSON.parse(msg.string()));
    };
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

  it('ignores a Callstate-Timeout that is no whole number of ms from 1 to 2^31 - 1', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const release = deferred<string>();
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang: () => release.promise } });
    const values = ['0', '-5', '1.5', 'soon', '99999999999'];
    const answers = values.map((value) => {
      const h = natsHeaders();
      h.set('Callstate-Timeout', value);
      const body = JSON.stringify({ jsonrpc: '2.0', id: value, method: 'hang', params: [] });
      return nats.raw.request(subject, body, { timeout: 5_000, headers: h }).then((msg) => JSON.parse(msg.string()));
    });
    await until(() => responder!.handlingCalls === 5, 'every call running');
    clock.increment(2 ** 31);
    await new Promise((resolve) => setImmediate(resolve));
    expect(responder.handlingCalls).toBe(5);
    release.resolve('done');
    expect((await Promise.all(answers)).map((answer) => answer.result)).toEqual(values.map(() => 'done'));
  });
});

/**
 * Edges of the NATS caller's timeout (`<inbox>.<call id>~<ms>` in each request's reply subject): what a request
 * carries is what its call has left when it is published, and a responder counts it from when the message came;
 * and options nats-server's control-line limit would turn into a reset connection are refused up front.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ErrorCodes, RemoteError, type Client, type HandlerContext, type NatsServer } from '../../src/index.js';
import { closeAfterEach, deferred, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let responder: NatsServer | undefined;
let subjects = 0;
const nextSubject = () => `edge22.svc${++subjects}`;

closeAfterEach(() => {
  const items = [client, responder];
  client = responder = undefined;
  return items;
});

/** Collects the reply subject of every message published to `subject`, as nats-server delivers it to a plain subscriber. */
async function watchReplies(subject: string) {
  const replies: string[] = [];
  const watcher = nats.raw.subscribe(subject, { callback: (_error, msg) => void replies.push(msg.reply ?? '') });
  await nats.raw.flush();
  return { replies, stop: () => watcher.unsubscribe() };
}

/** The time left a reply subject carries, after its `~`. */
const leftIn = (reply: string) => /~(\d+)$/.exec(reply)?.[1];

/**
 * A client on `clock` with `maxInFlight: 1`, whose first call (`hold`) is running at the responder: the next call waits
 * in its send queue until `release` answers the first.
 */
async function behindOneCall(subject: string, clock: SimulatedClock) {
  const release = deferred<string>();
  const holding = deferred();
  const hold = () => (holding.resolve(), release.promise);
  responder = await serve({ nats: nats.url, subject, methods: { hold, echo: (p: unknown) => p } });
  const watch = await watchReplies(subject);
  client = connect(nats.url, { subject, timeout: 5_000, maxInFlight: 1, clock });
  await client.ready;
  const first = client.request('hold', []);
  await holding.promise;
  return { watch, release: async () => (release.resolve('released'), expect(await first).toBe('released')) };
}

describe('a NATS request carries what its call has left when it is published', () => {
  it('sends the timeout less the time the call waited for the connection to open', async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p } });
    const watch = await watchReplies(subject);
    const clock = new SimulatedClock();
    client = connect(nats.url, { subject, timeout: 1_000, clock });
    // Made before the connection is open: it waits in line.
    const call = client.request('echo', ['late']);
    clock.increment(400);
    expect(await call).toEqual(['late']);
    await until(() => watch.replies.length === 1, 'the request seen');
    watch.stop();
    expect(leftIn(watch.replies[0]!)).toBe('600');
  });

  it('sends the timeout less the time the call waited in the send queue behind maxInFlight', async () => {
    const clock = new SimulatedClock();
    const { watch, release } = await behindOneCall(nextSubject(), clock);
    const second = client!.request('echo', ['queued'], { timeout: 1_000.25 });
    clock.increment(250);
    await release();
    expect(await second).toEqual(['queued']);
    await until(() => watch.replies.length === 2, 'both requests seen');
    watch.stop();
    // 1,000.25 - 250, rounded up to a whole ms.
    expect(watch.replies.map(leftIn)).toEqual(['5000', '751']);
  });

  it('sends at least 1 ms for a call whose time has run out but whose timer has not fired', async () => {
    // A clock whose time moves without firing timers: the call's own timer is due, not yet run.
    const clock = new SimulatedClock();
    let skew = 0;
    const skewed = Object.assign(Object.create(clock) as SimulatedClock, { now: () => clock.now() + skew });
    const { watch, release } = await behindOneCall(nextSubject(), skewed);
    const second = client!.request('echo', ['queued'], { timeout: 100 });
    skew = 150;
    await release();
    expect(await second).toEqual(['queued']);
    await until(() => watch.replies.length === 2, 'both requests seen');
    watch.stop();
    expect(leftIn(watch.replies[1]!)).toBe('1');
  });
});

describe("a NATS responder counts the caller's timeout from when the message came", () => {
  it('counts the wait for authenticate against it', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const gate = deferred<boolean>();
    let checks = 0;
    const started = deferred();
    const reasons: unknown[] = [];
    const hang = (_params: unknown, ctx: HandlerContext) =>
      new Promise((_resolve, reject) => {
        started.resolve();
        ctx.signal.addEventListener('abort', () => (reasons.push(ctx.signal.reason), reject(ctx.signal.reason)));
      });
    responder = await serve({
      nats: nats.url,
      subject,
      clock,
      methods: { hang },
      authenticate: () => (checks++, gate.promise),
    });
    // The caller's clock never moves: it waits for the responder's answer.
    client = connect(nats.url, { subject, timeout: 500, clock: new SimulatedClock() });
    const call = client.request('hang', []).catch((error: unknown) => error);
    await until(() => checks === 1, 'the access check running');
    clock.increment(400);
    gate.resolve(true);
    await started.promise;
    clock.increment(99);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reasons).toEqual([]);
    clock.increment(1);
    await until(() => reasons.length === 1, "the handler aborted at the caller's deadline");
    expect(reasons[0]).toMatchObject({
      name: 'TimeoutError',
      message: `method "hang" did not finish within 500 ms (the caller's timeout)`,
    });
    const error = await call;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({
      code: ErrorCodes.HandlerTimeout,
      message: `method "hang" did not finish within 500 ms (the caller's timeout)`,
      data: { method: 'hang', timeout: 500 },
    });
  });
});

describe("subjects too long for nats-server's control line are refused up front", () => {
  /** A valid subject `bytes` bytes long, under `edge22.`. */
  const subjectOf = (bytes: number) => `edge22.${'s'.repeat(bytes - 'edge22.'.length)}`;
  const limit = "nats-server's max_control_line (4096 bytes by default), past which it closes the connection";

  it('calls at the longest subject and inboxPrefix a client takes, with the longest timeout and headers', async () => {
    const subject = subjectOf(2_000);
    responder = await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p } });
    client = connect(nats.url, {
      subject,
      inboxPrefix: `inbox.${'p'.repeat(4_021 - 2_000 - 'inbox.'.length)}`,
      headers: { 'x-tenant': 'edge' },
      timeout: 2_147_483_647,
      clock: new SimulatedClock(),
    });
    expect(await client.request('echo', ['at the limit'])).toEqual(['at the limit']);
  });

  it('refuses a client whose subject and inboxPrefix together pass 4,021 bytes, counted in UTF-8', () => {
    const subject = subjectOf(2_000);
    expect(() => connect(nats.url, { subject, inboxPrefix: `inbox.${'p'.repeat(4_022 - 2_000 - 'inbox.'.length)}` })).toThrow(
      new TypeError(
        'options.subject and options.inboxPrefix are 4022 bytes long together, more than 4021: with the rest of a ' +
          "request's reply subject (the inbox's unique token, the call id and its timeout) and its lengths, the request's " +
          `control line would pass ${limit}`,
      ),
    );
    // 'ü' is two bytes of UTF-8.
    expect(() => connect(nats.url, { subject, inboxPrefix: `inbox.${'ü'.repeat(1_008)}` })).toThrow(/are 4022 bytes long together/);
    expect(() => connect(nats.url, { subject: subjectOf(4_016) })).toThrow(
      /^options\.subject and options\.inboxPrefix \(default "_INBOX"\) are 4022 bytes long together, more than 4021/,
    );
  });

  it('serves on the longest subject a client with the default inbox can call, and refuses one byte more', async () => {
    const subject = subjectOf(4_015);
    responder = await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p } });
    client = connect(nats.url, { subject, headers: { 'x-tenant': 'edge' }, timeout: 2_147_483_647, clock: new SimulatedClock() });
    expect(await client.request('echo', ['longest'])).toEqual(['longest']);
    await expect(serve({ nats: nats.url, subject: subjectOf(4_016), methods: {} })).rejects.toThrow(
      new TypeError(
        "options.subject is 4016 bytes long, more than 4015: a request of callstate's client to it " +
          `(its inbox prefix "_INBOX", the call id and its timeout in the reply subject) would pass ${limit}`,
      ),
    );
  });

  it('refuses a responder whose subject and queue together pass 4,084 bytes', async () => {
    await expect(serve({ nats: nats.url, subject: subjectOf(4_000), queue: 'q'.repeat(85), methods: {} })).rejects.toThrow(
      new TypeError(
        'options.subject and options.queue are 4085 bytes long together, more than 4084: the queue ' +
          `subscription's control line (SUB <subject> <queue> <id>) would pass ${limit}`,
      ),
    );
    responder = await serve({ nats: nats.url, subject: subjectOf(4_000), queue: 'q'.repeat(84), methods: { echo: (p: unknown) => p } });
    client = connect(nats.url, { subject: subjectOf(4_000), clock: new SimulatedClock() });
    expect(await client.request('echo', ['queue at the limit'])).toEqual(['queue at the limit']);
  });
});

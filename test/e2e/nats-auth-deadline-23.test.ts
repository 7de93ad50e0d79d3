/**
 * A NATS responder whose `authenticate` (or the checks of the messages before it) took a caller's whole timeout:
 * the handler does not start. It used to start, for a call nobody waits for any more, and be aborted on the next
 * timer tick.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ErrorCodes, RemoteError } from '../../src/index.js';
import { closeTrackedAfterEach, deferred, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let subjects = 0;
const nextSubject = () => `authdeadline23.svc${++subjects}`;

const track = closeTrackedAfterEach();

describe("a NATS responder whose access check used up the caller's timeout", () => {
  it.each([
    ['all of it', 500],
    ['more than all of it', 800],
  ])('does not start the handler when the check took %s', async (_, waited) => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const gate = deferred<boolean>();
    let checks = 0;
    let started = 0;
    const errors: unknown[] = [];
    track(
      await serve({
        nats: nats.url,
        subject,
        clock,
        methods: { work: () => (started++, 'done'), echo: (params: unknown) => params },
        authenticate: () => (checks++, gate.promise),
        onError: (error) => void errors.push(error),
      }),
    );
    // The caller's clock never moves: it waits for the responder's answer.
    const client = track(connect(nats.url, { subject, timeout: 500, clock: new SimulatedClock() }));
    const call = client.request('work', []).catch((error: unknown) => error);
    await until(() => checks === 1, 'the access check running');
    clock.increment(waited);
    gate.resolve(true);
    const error = await call;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({
      code: ErrorCodes.HandlerTimeout,
      message: `method "work" did not finish within 500 ms (the caller's timeout)`,
      data: { method: 'work', timeout: 500 },
    });
    expect(started).toBe(0);
    // Reported as a handler past its deadline is.
    expect(errors).toEqual([expect.objectContaining({ code: ErrorCodes.HandlerTimeout, message: (error as RemoteError).message })]);
    // The responder goes on: a call with time left runs.
    expect(await client.request('echo', ['next'])).toEqual(['next']);
    expect(started).toBe(0);
    expect(checks).toBe(2);
  });

  it('starts the handler with 1 ms left', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const gate = deferred<boolean>();
    let checks = 0;
    track(
      await serve({
        nats: nats.url,
        subject,
        clock,
        methods: { work: () => 'done' },
        authenticate: () => (checks++, gate.promise),
      }),
    );
    const client = track(connect(nats.url, { subject, timeout: 500, clock: new SimulatedClock() }));
    const call = client.request('work', []);
    await until(() => checks === 1, 'the access check running');
    clock.increment(499);
    gate.resolve(true);
    expect(await call).toBe('done');
  });
});

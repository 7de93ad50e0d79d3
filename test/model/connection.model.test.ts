/**
 * Model-based test of the connection: the shortest and simple paths of
 * `connectionMachine` replayed on both ends of a real WebSocket on 127.0.0.1.
 * As a client (`alreadyOpen: false`) against a raw server the test drives, and
 * as the server's side of an accepted socket (`alreadyOpen: true`) with a raw
 * client the test drives. The peer the test drives never reads after the
 * handshake, so a close handshake stays unanswered until the path says
 * otherwise. After every step the live connection actor's state (through
 * `inspect`) must be the model's.
 *
 * How each event is caused for real:
 * - transport.opened: the raw server completes the held opening handshake.
 * - transport.error: before the socket opened, the server refuses the handshake
 *   (ws reports the error, then closes); while closing a socket that never opened,
 *   ws reports the aborted handshake by itself. On an open socket, the peer
 *   writes a frame with a reserved opcode, which ws reports as an error.
 * - transport.closed: before the socket opened, a refused handshake (ws reports
 *   an error first, which changes no state); after a refused or aborted handshake,
 *   nothing: ws reports the close by itself. On an open socket, the peer drops the TCP connection.
 * - message.received: the peer sends a notification, which must reach the `notification` listeners.
 * - connection.close: `close()` on the live end.
 * - reconnect.now: `reconnectNow()` on the client, which says whether there was a wait to end.
 * - after reconnectDelay (a client with a reconnect policy, waiting to try
 *   again): its SimulatedClock advances by the delay its `reconnecting` event
 *   announced; the client then opens a new socket, whose handshake the raw
 *   server answers as the path goes on (each socket is an epoch).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { getNextSnapshot, SimulatedClock, type EventObject } from 'xstate';
import { connectionMachine, type ReconnectPolicy } from '../../machines/connection.machine.js';
import { connect, serve, type Client, type Peer, type Server } from '../../src/index.js';
import { until } from '../helpers.js';
import { follower, rawServer, recorder, type RawServer, type Recorder } from './live.js';
import {
  coverageOf,
  describePath,
  generatePaths,
  machineElements,
  replayReport,
  valueText,
  type ModelPath,
  type Variant,
} from './paths.js';

/** Backoff of the reconnecting client: 100 ms, then 200 ms, no jitter; it gives up after two failed attempts in a row. */
const POLICY: ReconnectPolicy = { initialDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0, maxAttempts: 2, minUptime: 1_000 };
const RECONNECT_DELAY_EVENT = 'xstate.after.reconnectDelay.connection.connecting.waiting';

const EVENTS = [
  { type: 'transport.opened' },
  { type: RECONNECT_DELAY_EVENT },
  { type: 'transport.closed', code: 1006, reason: '' },
  { type: 'transport.error', error: 'boom' },
  { type: 'message.received', data: '{}' },
  { type: 'connection.close' },
  { type: 'reconnect.now' },
] as EventObject[];

const VARIANTS: Variant[] = [
  { name: 'client', input: { url: 'ws://127.0.0.1', alreadyOpen: false }, machine: connectionMachine },
  { name: 'server side', input: { url: 'client 127.0.0.1', alreadyOpen: true }, machine: connectionMachine },
  // Failed attempts in a row decide whether the client tries again: vertices apart, so paths reach giving up.
  {
    name: 'reconnecting client',
    input: { url: 'ws://127.0.0.1', alreadyOpen: false, reconnect: POLICY },
    machine: connectionMachine,
    contextKey: (c) => `attempt ${c.attempt}`,
  },
];

/** `open`, `closing`, `closed`, or `connecting` for both of its substates. */
const top = (value: unknown) => (typeof value === 'string' ? value : Object.keys(value as object)[0]!);

/** A WebSocket frame with the reserved opcode 3: `ws` answers it with a protocol error. Masked as a client must. */
const INVALID_FRAME = { fromServer: [0x83, 0x00], fromClient: [0x83, 0x80, 0, 0, 0, 0] };

const generated = generatePaths(VARIANTS, EVENTS);

/**
 * Why a path cannot happen on a real socket, or undefined when it can. These
 * paths are listed by the test below, not replayed.
 */
function whyNotReplayable(path: ModelPath): string | undefined {
  // Whether the epoch's transport opened, and reported an error; a reconnect starts a new epoch.
  let opened = path.variant === 'server side';
  let errored = false;
  for (const [i, step] of path.steps.entries()) {
    if (i === 0) continue;
    const type = step.event.type;
    const from = path.steps[i - 1]!.state.value;
    if (type === 'transport.error' && valueText(from) === '{connecting:waiting}')
      return 'no transport is open while waiting to reconnect: nothing can report an error';
    if (type === 'message.received' && !opened) return 'no message can arrive on a socket that never opened';
    if (type === 'message.received' && errored) return 'ws stops reading a socket once it reported a protocol error';
    if (type === 'transport.opened' && errored) return 'ws never opens a socket after reporting a handshake error';
    if (type === 'transport.opened') opened = true;
    if (type === 'transport.error') errored = true;
    if (type === RECONNECT_DELAY_EVENT) opened = errored = false;
  }
  return undefined;
}

const replayable = generated.paths.filter((path) => !whyNotReplayable(path));
const notReplayable = generated.paths.filter((path) => whyNotReplayable(path));

let server: Server | undefined;
let raw: RawServer | undefined;
let client: Client | undefined;
let rawClient: WebSocket | undefined;
afterEach(async () => {
  rawClient?.terminate();
  await client?.terminate();
  await raw?.close();
  await server?.close();
  [server, raw, client, rawClient] = [undefined, undefined, undefined, undefined];
});

const replayed = replayReport('connection', generated, notReplayable.length);

/** The live end under test and the actions on its peer. */
interface Ends {
  rec: Recorder;
  live: Peer;
  notifications: () => number;
  closes: () => number;
  /** The client's `open` events, and the delays its `reconnecting` events announced (none on the server side). */
  opens: () => number;
  delays: () => number[];
  /** Advances the client's clock by `ms`. */
  advance(ms: number): void;
  /** Answers the handshake the client is waiting on (the current epoch's, which may not have started yet). */
  accept(): Promise<void>;
  refuse(): Promise<void>;
  sendInvalidFrame(): void;
  sendNotification(): void;
  drop(): void;
}

async function clientEnds(reconnect: ReconnectPolicy | undefined): Promise<Ends> {
  const rec = recorder();
  raw = await rawServer({ holdHandshake: true, stopReading: true });
  const clock = new SimulatedClock();
  const c = (client = connect(raw.url, { inspect: rec.inspect, clock, timeout: 60_000, closeTimeout: 60_000, reconnect }));
  let notifications = 0;
  let closes = 0;
  let opens = 0;
  const delays: number[] = [];
  c.on('notification', () => notifications++);
  c.on('close', () => closes++);
  c.on('open', () => opens++);
  c.on('reconnecting', (event) => delays.push(event.delay));
  const r = raw;
  await r.handshakeWaiting();
  return {
    rec,
    live: c,
    notifications: () => notifications,
    closes: () => closes,
    opens: () => opens,
    delays: () => delays,
    advance: (ms) => clock.increment(ms),
    accept: async () => {
      await r.handshakeWaiting();
      r.accept();
    },
    refuse: async () => {
      await r.handshakeWaiting();
      r.refuse();
    },
    sendInvalidFrame: () => r.writeBytes(INVALID_FRAME.fromServer),
    sendNotification: () => r.send({ jsonrpc: '2.0', method: 'tick', params: [1] }),
    drop: () => r.drop(),
  };
}

async function serverSideEnds(): Promise<Ends> {
  const rec = recorder();
  const s = (server = await serve({ methods: {}, inspect: rec.inspect, clock: new SimulatedClock(), closeTimeout: 60_000 }));
  let peer: Peer | undefined;
  let notifications = 0;
  let closes = 0;
  s.on('connection', (p) => {
    peer = p;
    p.on('notification', () => notifications++);
    p.on('close', () => closes++);
  });
  const socket = (rawClient = new WebSocket(s.url));
  await new Promise((resolve) => socket.once('open', resolve));
  // The raw client never reads: the server's close handshake stays unanswered.
  (socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
  await until(() => peer !== undefined, 'the server to accept');
  const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    rec,
    live: peer!,
    notifications: () => notifications,
    closes: () => closes,
    opens: () => 0,
    delays: () => [],
    advance: () => {
      throw new Error('the server side never reconnects');
    },
    accept: () => Promise.reject(new Error('the server side starts open')),
    refuse: () => Promise.reject(new Error('the server side starts open')),
    sendInvalidFrame: () => tcp.write(Buffer.from(INVALID_FRAME.fromClient)),
    sendNotification: () => socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'tick', params: [1] })),
    drop: () => socket.terminate(),
  };
}

describe(`connection machine: ${replayable.length} paths replayed on both ends of a live WebSocket`, () => {
  it('every state and transition of the machine is reached by some replayed path', () => {
    const all = machineElements(connectionMachine);
    const covered = coverageOf(replayable, VARIANTS);
    expect([...covered.states].sort()).toEqual([...all.states].sort());
    expect([...covered.transitions].sort()).toEqual([...all.transitions].sort());
  });

  it('lists the paths a real socket cannot take, and why', () => {
    const listed = notReplayable.map((path) => `${path.variant}: ${describePath(path)}: ${whyNotReplayable(path)}`);
    const neverOpened = 'no message can arrive on a socket that never opened';
    const noTransport = 'no transport is open while waiting to reconnect: nothing can report an error';
    expect(listed).toEqual([
      `client: init → connection.close → message.received ⇒ closing: ${neverOpened}`,
      `reconnecting client: init → transport.closed → transport.error ⇒ {connecting:waiting}: ${noTransport}`,
      `reconnecting client: init → connection.close → message.received ⇒ closing: ${neverOpened}`,
      `reconnecting client: init → transport.closed → after reconnectDelay → transport.closed → transport.error ⇒ {connecting:waiting}: ${noTransport}`,
      `reconnecting client: init → transport.closed → after reconnectDelay → connection.close → message.received ⇒ closing: ${neverOpened}`,
      `reconnecting client: init → transport.closed → after reconnectDelay → transport.closed → after reconnectDelay → connection.close → message.received ⇒ closing: ${neverOpened}`,
    ]);
  });

  it.each(replayable.map((path) => [`${path.variant}: ${describePath(path)}`, path] as const))('%s', async (_, path) => {
    const ends =
      path.variant === 'server side' ? await serverSideEnds() : await clientEnds((path.input as { reconnect?: ReconnectPolicy }).reconnect);
    const check = follower(ends.rec, () => ends.rec.actorsOf('connection')[0], path);
    // The current epoch's transport: whether it opened, whether its handshake was answered, and whether ws
    // will report its close by itself (a refused or aborted handshake).
    let opened = path.variant === 'server side';
    let handshakeAnswered = opened;
    let closesByItself = false;
    let messages = 0;
    let opensExpected = 0;
    let waits = 0;

    await check(0);
    for (let i = 1; i < path.steps.length; i++) {
      const type = path.steps[i]!.event.type;
      const from = top(path.steps[i - 1]!.state.value);
      switch (type) {
        case 'transport.opened':
          await ends.accept();
          opened = handshakeAnswered = true;
          opensExpected++;
          break;
        case 'transport.error':
        case 'transport.closed':
          if (opened) {
            if (type === 'transport.error') ends.sendInvalidFrame();
            else ends.drop();
          } else if (from === 'connecting' && !handshakeAnswered) {
            await ends.refuse();
            handshakeAnswered = closesByItself = true;
          }
          // Otherwise ws reports it by itself: the handshake was refused or aborted.
          if (type === 'transport.closed') closesByItself = false;
          break;
        case 'message.received':
          ends.sendNotification();
          messages++;
          await until(() => ends.notifications() === messages, 'the notification to reach its listener');
          break;
        case 'connection.close':
          void ends.live.close();
          if (from === 'connecting' && !opened) closesByItself = true;
          break;
        case 'reconnect.now': {
          // The wait was announced as the policy's backoff for this attempt, and ends without it.
          expect(ends.live.reconnectNow()).toBe(valueText(path.steps[i - 1]!.state.value) === '{connecting:waiting}');
          expect(ends.delays()).toHaveLength(++waits);
          opened = handshakeAnswered = closesByItself = false;
          break;
        }
        case RECONNECT_DELAY_EVENT: {
          // The delay the client announced: the policy's backoff for this attempt.
          const delays = ends.delays();
          expect(delays).toHaveLength(++waits);
          expect(delays.at(-1)).toBe(POLICY.initialDelay * POLICY.factor ** (waits - 1));
          ends.advance(delays.at(-1)!);
          opened = handshakeAnswered = closesByItself = false;
          break;
        }
        default:
          throw new Error(`no real action for ${type}`);
      }
      await check(i);
    }

    expect(ends.notifications()).toBe(messages);
    const live = () => ends.live.actor.getSnapshot().value;
    let waitsAfter = 0;
    if (path.state.value === 'closed') {
      expect(ends.live.state).toBe('closed');
      await until(() => ends.closes() === 1, 'the close event');
    } else if (closesByItself) {
      // A refused or aborted handshake goes on by itself, as the model does on the close ws then reports.
      const next = getNextSnapshot(connectionMachine, path.state as never, { type: 'transport.closed', code: 1006, reason: '' });
      await until(
        () => JSON.stringify(live()) === JSON.stringify(next.value),
        `the connection to go on to ${valueText(next.value)} by itself`,
      );
      expect(ends.closes()).toBe(next.value === 'closed' ? 1 : 0);
      if (top(next.value) === 'connecting') waitsAfter = 1;
    } else {
      expect(live()).toEqual(path.state.value);
      expect(ends.live.state).toBe(top(path.state.value));
      expect(ends.closes()).toBe(0);
    }
    // `open` on every (re)open, `reconnecting` once per wait before an attempt.
    expect(ends.opens()).toBe(opensExpected);
    expect(ends.delays().length).toBe(path.variant === 'reconnecting client' ? countWaits(path) + waitsAfter : 0);
    replayed.push(describePath(path));
  });
});

/** How many times the path enters `connecting.waiting` (each one announced by a `reconnecting` event). */
function countWaits(path: ModelPath): number {
  return path.steps.filter(
    (step, i) =>
      i > 0 &&
      valueText(step.state.value) === '{connecting:waiting}' &&
      valueText(path.steps[i - 1]!.state.value) !== '{connecting:waiting}',
  ).length;
}

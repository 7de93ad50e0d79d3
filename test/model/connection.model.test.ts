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
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SimulatedClock, type EventObject } from 'xstate';
import { connectionMachine } from '../../machines/connection.machine.js';
import { connect, serve, type Client, type Peer, type Server } from '../../src/index.js';
import { until } from '../helpers.js';
import { follower, rawServer, recorder, type RawServer, type Recorder } from './live.js';
import { coverageOf, describePath, generatePaths, machineElements, replayReport, type ModelPath, type Variant } from './paths.js';

const EVENTS = [
  { type: 'transport.opened' },
  { type: 'transport.closed', code: 1006, reason: '' },
  { type: 'transport.error', error: 'boom' },
  { type: 'message.received', data: '{}' },
  { type: 'connection.close' },
] as EventObject[];

const VARIANTS: Variant[] = [
  { name: 'client', input: { url: 'ws://127.0.0.1', alreadyOpen: false }, machine: connectionMachine },
  { name: 'server side', input: { url: 'client 127.0.0.1', alreadyOpen: true }, machine: connectionMachine },
];

/** A WebSocket frame with the reserved opcode 3: `ws` answers it with a protocol error. Masked as a client must. */
const INVALID_FRAME = { fromServer: [0x83, 0x00], fromClient: [0x83, 0x80, 0, 0, 0, 0] };

const generated = generatePaths(VARIANTS, EVENTS);

/**
 * Why a path cannot happen on a real socket, or undefined when it can. These
 * paths are listed by the test below, not replayed.
 */
function whyNotReplayable(path: ModelPath): string | undefined {
  let opened = path.variant === 'server side';
  let errored = false;
  for (const step of path.steps.slice(1)) {
    if (step.event.type === 'transport.opened') opened = true;
    if (step.event.type === 'message.received' && !opened) return 'no message can arrive on a socket that never opened';
    if (step.event.type === 'message.received' && errored) return 'ws stops reading a socket once it reported a protocol error';
    if (step.event.type === 'transport.opened' && errored) return 'ws never opens a socket after reporting a handshake error';
    if (step.event.type === 'transport.error') errored = true;
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
  accept(): void;
  refuse(): void;
  sendInvalidFrame(): void;
  sendNotification(): void;
  drop(): void;
}

async function clientEnds(): Promise<Ends> {
  const rec = recorder();
  raw = await rawServer({ holdHandshake: true, stopReading: true });
  const c = (client = connect(raw.url, { inspect: rec.inspect, clock: new SimulatedClock(), timeout: 60_000, closeTimeout: 60_000 }));
  let notifications = 0;
  let closes = 0;
  c.on('notification', () => notifications++);
  c.on('close', () => closes++);
  const r = raw;
  await r.handshakeWaiting();
  return {
    rec,
    live: c,
    notifications: () => notifications,
    closes: () => closes,
    accept: () => r.accept(),
    refuse: () => r.refuse(),
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
    accept: () => {
      throw new Error('the server side starts open');
    },
    refuse: () => {
      throw new Error('the server side starts open');
    },
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
    expect(listed).toEqual(['client: init → connection.close → message.received ⇒ closing: no message can arrive on a socket that never opened']);
  });

  it.each(replayable.map((path) => [`${path.variant}: ${describePath(path)}`, path] as const))('%s', async (_, path) => {
    const ends = path.variant === 'client' ? await clientEnds() : await serverSideEnds();
    const check = follower(ends.rec, () => ends.rec.actorsOf('connection')[0], path);
    let opened = path.variant === 'server side';
    let handshakeAnswered = opened;
    let messages = 0;

    await check(0);
    for (let i = 1; i < path.steps.length; i++) {
      const type = path.steps[i]!.event.type;
      const from = path.steps[i - 1]!.state.value;
      switch (type) {
        case 'transport.opened':
          ends.accept();
          opened = handshakeAnswered = true;
          break;
        case 'transport.error':
        case 'transport.closed':
          if (opened) {
            if (type === 'transport.error') ends.sendInvalidFrame();
            else ends.drop();
          } else if (from === 'connecting' && !handshakeAnswered) {
            ends.refuse();
            handshakeAnswered = true;
          }
          // Otherwise ws reports it by itself: the handshake was refused or aborted.
          break;
        case 'message.received':
          ends.sendNotification();
          messages++;
          await until(() => ends.notifications() === messages, 'the notification to reach its listener');
          break;
        case 'connection.close':
          void ends.live.close();
          break;
        default:
          throw new Error(`no real action for ${type}`);
      }
      await check(i);
    }

    expect(ends.notifications()).toBe(messages);
    if (path.state.value === 'closed') {
      expect(ends.live.state).toBe('closed');
      await until(() => ends.closes() === 1, 'the close event');
    } else if (!opened && path.steps.length > 1) {
      // A refused or aborted handshake goes on to closed by itself.
      await until(() => ends.live.state === 'closed', 'the connection to close by itself');
    } else {
      expect(ends.live.state).toBe(path.state.value);
      expect(ends.closes()).toBe(0);
    }
    replayed.push(describePath(path));
  });
});

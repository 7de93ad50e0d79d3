/**
 * Live side of the model-based tests: what the running actors did (through
 * the `inspect` option), and a raw WebSocket server that does exactly what a
 * path asks: hold or refuse the handshake, stop reading, send literal frames
 * or bytes, drop the socket.
 */
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ActorRefLike, EventObject, InspectionEvent } from 'xstate';
import type { ModelPath } from './paths.js';
import { shortEvent, valueText } from './paths.js';
import { machineId, until } from '../helpers.js';

export interface LiveStep {
  event: string;
  value: unknown;
  status: string;
}

/** Every snapshot of every actor, with the event that led to it, by machine id. */
export function recorder() {
  const steps = new Map<ActorRefLike, LiveStep[]>();
  const actors: Array<{ machine: string; actor: ActorRefLike }> = [];
  const lastEvent = new Map<ActorRefLike, string>();
  return {
    inspect: (event: InspectionEvent) => {
      if (event.type === '@xstate.actor') {
        const machine = machineId(event.actorRef) ?? '?';
        actors.push({ machine, actor: event.actorRef });
      } else if (event.type === '@xstate.event') {
        lastEvent.set(event.actorRef, event.event.type);
      } else if (event.type === '@xstate.snapshot') {
        const snapshot = event.snapshot as { value?: unknown; status: string };
        const list = steps.get(event.actorRef) ?? [];
        list.push({
          event: (event.event as EventObject | undefined)?.type ?? lastEvent.get(event.actorRef) ?? '?',
          value: snapshot.value,
          status: snapshot.status,
        });
        steps.set(event.actorRef, list);
      }
    },
    /** The actors of one machine, in order of creation. */
    actorsOf: (machine: string) => actors.filter((a) => a.machine === machine).map((a) => a.actor),
    stepsOf: (actor: ActorRefLike) => steps.get(actor) ?? [],
  };
}

export type Recorder = ReturnType<typeof recorder>;

/**
 * Follows a path on a live actor, one step at a time. `check(i)` waits until
 * the actor has received the event of step `i` (skipping events that did not
 * change its state value, such as the transport error ws reports before a
 * failed handshake) and asserts the state value it was in right after.
 * `alternatives(i)` names events the live actor may take in place of step
 * `i`'s when the real world cannot order them as the model does; the state
 * reached must still be the model's.
 */
export function follower(
  rec: Recorder,
  actorOf: () => ActorRefLike | undefined,
  path: ModelPath,
  alternatives: (i: number) => readonly string[] = () => [],
) {
  let cursor = 0;
  return async (i: number) => {
    const step = path.steps[i]!;
    const what = `step ${i} (${shortEvent(step.event.type)} ⇒ ${valueText(step.state.value)})`;
    await until(() => actorOf() !== undefined, `the live actor for ${what}`);
    const actor = actorOf()!;
    if (i === 0) {
      await until(() => rec.stepsOf(actor).length > 0, `the first snapshot (${what})`);
      expect(rec.stepsOf(actor)[0]!.value, what).toEqual(step.state.value);
      cursor = 1;
      return;
    }
    const accepted = [step.event.type, ...alternatives(i)];
    const previous = rec.stepsOf(actor)[cursor - 1]!.value;
    await until(
      () =>
        rec
          .stepsOf(actor)
          .slice(cursor)
          .some((s) => accepted.includes(s.event)),
      `the live actor to receive ${what}`,
    );
    const live = rec.stepsOf(actor);
    const at = live.findIndex((s, k) => k >= cursor && accepted.includes(s.event));
    for (const skipped of live.slice(cursor, at)) {
      expect(skipped.value, `an extra ${skipped.event} before ${what} changed the state`).toEqual(previous);
    }
    expect(live[at]!.value, `${what}, taken by ${live[at]!.event}`).toEqual(step.state.value);
    cursor = at + 1;
  };
}

/**
 * A WebSocket server under the test's control, on 127.0.0.1 port 0. It keeps
 * the frames of each connection apart (a reconnecting client opens several),
 * and acts on the latest one. `stopReading` says which connections (counted
 * from 0) it never reads from.
 */
export async function rawServer(options: { holdHandshake?: boolean; stopReading?: boolean | ((connection: number) => boolean) } = {}) {
  const pending: Array<(ok: boolean, code?: number) => void> = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    verifyClient: (_info, done) => {
      if (options.holdHandshake) pending.push((ok, code) => done(ok, code));
      else done(true);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const inbox: any[] = [];
  /** The frames received on each connection, in order of connection. */
  const connections: any[][] = [];
  let socket: WebSocket | undefined;
  const stopReading = options.stopReading;
  wss.on('connection', (ws) => {
    socket = ws;
    const frames: any[] = [];
    const raw = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    // A server that does not read lets the client's writes pile up: they stay unwritten, and a close is never answered.
    if (typeof stopReading === 'function' ? stopReading(connections.length) : stopReading) raw.pause();
    connections.push(frames);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      inbox.push(frame);
      frames.push(frame);
    });
  });
  const rawSocket = () => (socket as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    /** Every frame received, on any connection. */
    inbox,
    connections,
    /** Resolves once a client is waiting for the handshake to be answered. */
    handshakeWaiting: () => until(() => pending.length > 0, 'a handshake'),
    /** How many handshakes wait for an answer. */
    handshakes: () => pending.length,
    accept: () => pending.shift()!(true),
    refuse: () => pending.shift()!(false, 503),
    connected: (count = 1) => until(() => connections.length >= count, `connection ${count}`),
    send: (frame: unknown) => socket!.send(JSON.stringify(frame)),
    /** Writes bytes on the TCP socket, beneath WebSocket framing. */
    writeBytes: (bytes: number[]) => rawSocket().write(Buffer.from(bytes)),
    /** Drops the TCP connection without a close frame. */
    drop: () => socket!.terminate(),
    /** Waits for a frame from the client that matches, on any connection or on the given one. */
    received: async (match: (frame: any) => boolean, what: string, connection?: number) => {
      const frames = () => (connection === undefined ? inbox : (connections[connection] ?? []));
      await until(() => frames().some(match), what);
      return frames().find(match);
    },
    close: async () => {
      while (pending.length > 0) pending.shift()!(false, 503);
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export type RawServer = Awaited<ReturnType<typeof rawServer>>;

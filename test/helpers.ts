/** Shared helpers for end-to-end tests: deferred promises, polling and raw sockets. */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ActorRefLike, InspectionEvent } from 'xstate';
import type { HandlerContext } from '../src/index.js';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A floor under `until`'s bound: on a loaded machine (CI, two cores shared with Chromium and nats-server) another
 * process can be off the CPU for longer than a few thousand quick turns. A hang detector, not a measured time.
 */
const UNTIL_FLOOR_MS = 10_000;

/**
 * Waits until `condition` holds, checking on every turn of the event loop. Gives up after `turns` turns and at
 * least `UNTIL_FLOOR_MS`, whichever ends later: nothing here asserts how long anything takes.
 */
export async function until(condition: () => boolean, what = 'condition', turns = 20_000): Promise<void> {
  const floor = Date.now() + UNTIL_FLOOR_MS;
  for (let i = 0; i < turns || Date.now() < floor; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** `promise`, or a failure naming `what` if it has not settled after `ms` (a hang detector, not a measured time). */
export function orHang<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

/** Captures what a promise settles with, for asserting a rejection's fields together. */
export async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: any }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

/** Sends `request` (raw HTTP) to 127.0.0.1:`port` and returns everything the server answered until it closed the socket. */
export async function rawHttp(port: number, request: string): Promise<string> {
  const socket = tcpConnect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.write(request);
  await once(socket, 'close');
  return received;
}

/** A raw ws client for protocol-level tests: send literal text, read literal replies. */
export async function rawClient(
  url: string,
): Promise<{ socket: WebSocket; next: () => Promise<unknown>; send: (text: string) => void; close: () => Promise<void> }> {
  const socket = new WebSocket(url);
  const inbox: unknown[] = [];
  const waiters: Array<(value: unknown) => void> = [];
  socket.on('message', (data) => {
    const value = JSON.parse(data.toString());
    const waiter = waiters.shift();
    if (waiter) waiter(value);
    else inbox.push(value);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    send: (text) => socket.send(text),
    next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiters.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
}

/** A JSON-RPC frame as a scripted peer reads it. */
export type Frame = { id?: string | number; method?: string; params?: any; result?: unknown; error?: any };

/** Every frame `socket` reads from now on, as they come (a batch's frames one by one): answers, requests, notifications. */
export function framesOf(socket: WebSocket): Frame[] {
  const read: Frame[] = [];
  socket.on('message', (data) => {
    const value = JSON.parse(data.toString());
    for (const frame of Array.isArray(value) ? value : [value]) read.push(frame);
  });
  return read;
}

/**
 * A `ws` server on 127.0.0.1 that a test drives by hand as a client's peer: its sockets, and every frame each one
 * read, in order (a batch's frames one by one). The caller closes `wss` (terminating its sockets) after the test.
 */
export async function scriptedPeer(options: { autoPong?: boolean } = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise((resolve) => wss.once('listening', resolve));
  const sockets: WebSocket[] = [];
  const frames: Frame[][] = [];
  wss.on('connection', (socket) => {
    sockets.push(socket);
    frames.push(framesOf(socket));
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, sockets, frames };
}

/** Closes whatever the getter returns (clients first, then servers) after each test. */
export function closeAfterEach(get: () => Array<{ close(): Promise<unknown> } | undefined>): void {
  afterEach(async () => {
    for (const item of get()) await item?.close();
  });
}

/**
 * Returns `track`: whatever it is given (a server, a client, a NATS responder) is closed after each
 * test, the last tracked first (clients before the server they connect to).
 */
export function closeTrackedAfterEach(): <T extends { close(): Promise<unknown> }>(item: T) => T {
  const items: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const item of items.splice(0).reverse()) await item.close();
  });
  return (item) => (items.push(item), item);
}

/**
 * A handler that never answers: `entered` resolves when it starts, `aborted`
 * with `ctx.signal.aborted` when its signal fires (then it rejects).
 */
export function abortWatcher() {
  const entered = deferred();
  const aborted = deferred<boolean>();
  const handler = (_params: unknown, ctx: HandlerContext) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener('abort', () => {
        aborted.resolve(ctx.signal.aborted);
        reject(new Error('aborted'));
      });
      entered.resolve();
    });
  return { handler, entered: entered.promise, aborted: aborted.promise };
}

/** The id of the machine an actor runs (`call`, `connection`, `incomingCall`). */
export function machineId(actor: ActorRefLike): string | undefined {
  return (actor as unknown as { logic?: { id?: string } }).logic?.id;
}

/** Collects inspection events and the sequence of state values per actor. */
export function recorder() {
  const events: InspectionEvent[] = [];
  const states = new Map<ActorRefLike, unknown[]>();
  return {
    events,
    states,
    inspect: (event: InspectionEvent) => {
      events.push(event);
      if (event.type === '@xstate.snapshot') {
        const value = (event.snapshot as { value?: unknown }).value;
        const seq = states.get(event.actorRef) ?? [];
        if (JSON.stringify(seq.at(-1)) !== JSON.stringify(value)) seq.push(value);
        states.set(event.actorRef, seq);
      }
    },
    actorsOf: (id: string) => events.filter((e) => e.type === '@xstate.actor' && machineId(e.actorRef) === id).map((e) => e.actorRef),
  };
}

// Hostile values, in a file without vitest so that bench/ can build them too.
export { errorWithThrowingGetter, throwingProxy, type ProxyTrap } from './hostile-values.js';

/**
 * Everything thrown or rejected without a handler during each test of the
 * file. The listeners keep the process alive (an escaped error would otherwise
 * end the worker), so a test fails by asserting the list is empty.
 */
export function collectUncaught(): unknown[] {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  beforeEach(() => {
    uncaught.length = 0;
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
  });
  afterEach(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  return uncaught;
}

/** The JS heap in use after a full collection (vitest runs without --expose-gc: the flag is set for this worker). */
export function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

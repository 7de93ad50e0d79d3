/**
 * The default frame size limits (1 MiB on a server, 16 MiB on a client) hold on both sides when no
 * `maxPayload` is given: a frame whose header claims more is refused at its
 * header with close code 1009, before any of its payload is buffered.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  connect,
  serve,
  ConnectionClosedError,
  DEFAULT_CLIENT_MAX_PAYLOAD,
  DEFAULT_MAX_PAYLOAD,
  type Client,
  type ClientOptions,
  type Server,
} from '../../src/index.js';
import { closeAfterEach, deferred, orHang, settle } from '../helpers.js';
import { closeCodeFrom, frameHeader, rawServer, rawUpgrade, tinyFragments } from '../raw-websocket.js';

let server: Server | undefined;
let client: Client | undefined;
let raw: Awaited<ReturnType<typeof rawServer>> | undefined;
let socket: Socket | undefined;
closeAfterEach(() => [client, server, raw, { close: async () => void socket?.destroy() }]);

const GIB = 2 ** 30;
/** What follows the header: a little of the claimed gigabyte, enough to show nothing waits for the rest. */
const SOME_PAYLOAD = Buffer.alloc(64 * 1024, 0x20);

describe('frame size limit by default', () => {
  it("is 1 MiB on a server and 16 MiB on a client, not ws's 100 MiB (JSON.parse takes 15 to 30 times a frame's size in heap)", () => {
    expect(DEFAULT_MAX_PAYLOAD).toBe(1024 * 1024);
    expect(DEFAULT_CLIENT_MAX_PAYLOAD).toBe(16 * 1024 * 1024);
  });

  it('the client refuses a frame one byte past 16 MiB at its header with 1009, without maxPayload given', async () => {
    // 100 MiB of `[{},{},…]` from a hostile server took a client past 4 GB of heap parsing it.
    const { code, error } = await clientWithACallReads(Buffer.concat([frameHeader(16 * 2 ** 20 + 1, false), SOME_PAYLOAD]), 'the frame');
    expect(code).toBe(1009);
    expect(error.message).toMatch(
      /the server sent a message larger than maxPayload \(16777216 bytes\): refused at its frame header, unread$/,
    );
  });

  it('the server refuses a frame one byte past 1 MiB with 1009, and a call just under it goes both ways, without maxPayload given', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    socket = await rawUpgrade(server.url);
    const code = closeCodeFrom(socket);
    socket.write(Buffer.concat([frameHeader(DEFAULT_MAX_PAYLOAD + 1, true), SOME_PAYLOAD]));
    expect(await orHang(code, 'the server never refused the frame', 10_000)).toBe(1009);
    // The request and its answer are each a little under 1 MiB (the frame's JSON around the string).
    client = connect(server.url);
    const text = 'x'.repeat(DEFAULT_MAX_PAYLOAD - 200);
    expect(await client.request('echo', [text])).toEqual([text]);
  });

  it('over HTTP, the server answers a POST body one byte past 1 MiB with 413, without maxPayload given', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(DEFAULT_MAX_PAYLOAD + 1),
    });
    expect(response.status).toBe(413);
    await response.body?.cancel();
  });

  it('the server refuses a frame claiming 1 GiB at its header with 1009, without maxPayload given', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    socket = await rawUpgrade(server.url);
    const code = closeCodeFrom(socket);
    socket.write(Buffer.concat([frameHeader(GIB, true), SOME_PAYLOAD]));
    expect(await orHang(code, 'the server never refused the frame', 10_000)).toBe(1009);
  });

  it('the client refuses a frame claiming 1 GiB at its header with 1009 and fails its calls, without maxPayload given', async () => {
    const { code, error } = await clientWithACallReads(Buffer.concat([frameHeader(GIB, false), SOME_PAYLOAD]), 'the frame');
    expect(code).toBe(1009);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1006);
    expect(error.message).toBe(
      `the connection to ${raw!.url} closed before the call settled (code 1006): the server sent a message larger than maxPayload (${DEFAULT_CLIENT_MAX_PAYLOAD} bytes): refused at its frame header, unread`,
    );
  });

  it("the client's calls and close event name maxPayload and its value for a message past it, ws's error as the cause", async () => {
    const closed = deferred<{ code: number | undefined; error?: unknown }>();
    // A message of two frames (a text frame that is not final, then its final continuation), 600 bytes each.
    const first = Buffer.concat([Buffer.from([0x01, 126, 0x02, 0x58]), Buffer.alloc(600, 0x20)]);
    const last = Buffer.concat([Buffer.from([0x80, 126, 0x02, 0x58]), Buffer.alloc(600, 0x20)]);
    const { code, error } = await clientWithACallReads(Buffer.concat([first, last]), 'the message', { maxPayload: 1_000 }, (c) =>
      c.once('close', closed.resolve),
    );
    expect(code).toBe(1009);
    const why = 'the server sent a message larger than maxPayload (1000 bytes): refused at its frame header, unread';
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.closeCode, error.message]).toEqual([
      1006,
      `the connection to ${raw!.url} closed before the call settled (code 1006): ${why}`,
    ]);
    // ws's code is kept, for code that tells this error by it.
    expect([error.cause.name, error.cause.message, error.cause.code]).toEqual(['RangeError', why, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
    expect(error.cause.cause.message).toBe('Max payload size exceeded');
    const event = await closed.promise;
    expect((event.error as Error).message).toBe(why);
  });
});

/**
 * A client with a call pending on a hand-written server, which sends it `frames`: the close code the client answers
 * with, and its call's error once the server then drops the socket.
 */
async function clientWithACallReads(
  frames: Buffer,
  what: string,
  options: ClientOptions = {},
  watch?: (client: Client) => void,
): Promise<{ code: number; error: any }> {
  raw = await rawServer();
  client = connect(raw.url, { heartbeat: 0, ...options });
  watch?.(client);
  await client.ready;
  socket = await raw.accepted;
  const call = settle(client.request('echo', {}));
  const closed = closeCodeFrom(socket);
  socket.write(frames);
  const code = await orHang(closed, `the client never refused ${what}`, 10_000);
  socket.destroy();
  return { code, error: (await call).error };
}

/**
 * A message in frames of a byte each costs the side reading it an object per fragment (about 110 bytes of heap each in
 * ws): a message within `maxPayload` could hold a hundred times its size (CVE-2026-48779). ws (8.21 and later) closes
 * the connection with 1008 past 16,384 fragments of one message; callstate passes no `maxFragments` (nor an undefined
 * one), so that default holds on both sides.
 */
describe('a message sent in one-byte fragments', () => {
  /** Past ws's default limit of fragments in one message, and well within every byte limit (20,000 bytes). */
  const FRAGMENTS = 20_000;

  it('the server closes the connection with 1008 past 16,384 fragments, and still answers other clients', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    socket = await rawUpgrade(server.url);
    const code = closeCodeFrom(socket);
    socket.write(tinyFragments(FRAGMENTS, true));
    expect(await orHang(code, 'the server never refused the fragments', 10_000)).toBe(1008);
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
  });

  it('the client closes the connection with 1008 past 16,384 fragments and fails its calls', async () => {
    const { code, error } = await clientWithACallReads(tinyFragments(FRAGMENTS, false), 'the fragments');
    expect(code).toBe(1008);
    expect(error).toBeInstanceOf(ConnectionClosedError);
  });
});

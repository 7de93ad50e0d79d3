/**
 * Adversarial checks of the inspection tooling over real sockets on
 * 127.0.0.1: what a hostile peer of an inspected application, or an unlucky
 * application, makes the inspector hold, send or drop.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createInspector, inspectTo, serve, type Inspector, type InspectStream, type Server } from '../../src/index.js';
import { callLog } from '../../src/tools/commands/serve.js';
import { startPageServer, type PageServer } from '../../src/tools/inspect/hub.js';
import type { PageModel } from '../../src/tools/inspect/model.js';
import { closeAfterEach, rawClient } from '../helpers.js';
import { eventually } from '../nats-helpers.js';

let server: Server | undefined;
let inspector: Inspector | undefined;
let page: PageServer | undefined;
let stream: InspectStream | undefined;
closeAfterEach(() => [server, inspector, stream, page]);
afterEach(() => {
  server = inspector = stream = page = undefined;
});

/** What XState reports when an incoming call starts (only the fields the feed reads), for `count` calls. */
function incomingCalls(count: number, method = 'm'): InspectionEvent[] {
  return Array.from(
    { length: count },
    (_, i) =>
      ({
        type: '@xstate.snapshot',
        actorRef: { sessionId: `call:${i}`, logic: { id: 'incomingCall' } },
        rootId: `call:${i}`,
        event: { type: 'xstate.init' },
        snapshot: { status: 'active', value: 'handling', context: { method, id: String(i) } },
      }) as unknown as InspectionEvent,
  );
}

const model = async (url: string) => (await (await fetch(new URL('/model.json', url))).json()) as PageModel;

describe('an inspected server called by a hostile peer', () => {
  it("keeps at most 200 characters of a peer's method name and id, as a streamed batch would", async () => {
    inspector = await createInspector({ port: 0 });
    server = await serve({ methods: { echo: (params: unknown) => params }, inspect: inspector.inspect });
    const peer = await rawClient(server.url);
    // Both are the peer's choice, up to maxPayload (1 MiB by default on a server; more when it says so); the page holds 500 such calls and sends each to every viewer.
    const long = 'x'.repeat(100_000);
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: `i${long}`, method: `m${long}`, params: [] }));
    expect(await peer.next()).toMatchObject({ error: { code: -32601 } });
    await peer.close();
    await eventually(async () => (await model(inspector!.url)).recent.length === 1, 'the call on the page');
    const [call] = (await model(inspector.url)).recent;
    // Lengths, not the strings: a failure would print 100,000 characters.
    expect([call!.method.length, call!.id.length]).toEqual([200, 200]);
    expect([call!.method.slice(0, 2), call!.id.slice(0, 2)]).toEqual(['mx', 'ix']);
  });
});

describe('callstate serve --log, called by a hostile peer', () => {
  it("prints one line per call whatever the peer's method name holds: control characters escaped, at most 200 characters", async () => {
    const lines: string[] = [];
    server = await serve({ methods: { echo: (params: unknown) => params }, inspect: callLog((line) => lines.push(line), false) });
    const peer = await rawClient(server.url);
    // A forged log line, then ANSI escapes that would clear the operator's terminal.
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x\nadmin id="1" replied 0 ms\u001b[2J\u001b[H', params: [] }));
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'y'.repeat(10_000), params: [] }));
    expect(await peer.next()).toMatchObject({ id: 1, error: { code: -32601 } });
    expect(await peer.next()).toMatchObject({ id: 2, error: { code: -32601 } });
    await peer.close();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^x\\u000aadmin id="1" replied 0 ms\\u001b\[2J\\u001b\[H id=1 failed \d+ ms$/);
    expect(lines[1]).toMatch(new RegExp(`^y{200} id=2 failed \\d+ ms$`));
  });
});

describe('callstate serve --log, a method name with bidirectional controls', () => {
  it('escapes them, so that a viewer honouring them cannot show a failed call as replied', async () => {
    const lines: string[] = [];
    server = await serve({ methods: { echo: (params: unknown) => params }, inspect: callLog((line) => lines.push(line), false) });
    const peer = await rawClient(server.url);
    // RIGHT-TO-LEFT OVERRIDE, then isolates and marks: each reorders what follows it on the line.
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'pay\u202edeilper\u2066\u2069\u200f\u061c', params: [] }));
    expect(await peer.next()).toMatchObject({ id: 1, error: { code: -32601 } });
    await peer.close();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^pay\\u202edeilper\\u2066\\u2069\\u200f\\u061c id=1 failed \d+ ms$/);
  });
});

describe('inspectTo', () => {
  it('sends every batch left on close, and counts as dropped what it could not send once the page is gone', async () => {
    page = await startPageServer();
    // No batch goes before close(): 3,000 events make more than one batch (2,000 at most each).
    stream = inspectTo(page.url, { interval: 60_000 });
    for (const event of incomingCalls(3_000)) stream.inspect(event);
    expect(stream.buffered).toBe(3_000);
    await stream.close();
    expect([stream.buffered, stream.dropped, page.model.inflightCount]).toEqual([0, 0, 3_000]);

    const { port } = page;
    await page.close();
    const orphan = inspectTo(`http://127.0.0.1:${port}`, { interval: 60_000 });
    for (const event of incomingCalls(3_000)) orphan.inspect(event);
    await orphan.close();
    expect([orphan.buffered, orphan.dropped]).toEqual([0, 3_000]);
  });

  it('keeps each batch within the 1 MiB the page takes, however long the JSON of its events', async () => {
    page = await startPageServer();
    stream = inspectTo(page.url, { interval: 60_000 });
    // Method names a peer chose: cut at 200 characters, but a control character takes 6 bytes of JSON (\u0001),
    // so 2,000 such events (one batch by count) make 2.7 MB.
    for (const event of incomingCalls(2_000, '\u0001'.repeat(200))) stream.inspect(event);
    await stream.close();
    expect([stream.dropped, page.model.inflightCount]).toEqual([0, 2_000]);
  });
});

describe('the inspection page server', () => {
  it('holds at most maxViewers + maxIngests + 64 TCP connections: idle ones past that are dropped, not kept for headersTimeout', async () => {
    page = await startPageServer({ maxViewers: 1, maxIngests: 1 });
    const { port } = page;
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = tcpConnect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 66; i++) sockets.push(await open());
      const extra = await open();
      sockets.push(extra);
      extra.on('error', () => {});
      // Node drops a connection past http.maxConnections as it accepts it.
      await new Promise((resolve) => extra.once('close', resolve));
      const first = sockets[0]!;
      const answer = new Promise<string>((resolve) => first.once('data', (chunk) => resolve(String(chunk))));
      first.write('GET /favicon.ico HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      expect(await answer).toMatch(/^HTTP\/1\.1 204 /);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

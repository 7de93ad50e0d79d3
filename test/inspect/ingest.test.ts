/**
 * Watching your own application: createInspector in the same process, and
 * inspectTo streaming to a page server over HTTP (POST /ingest), bounded when
 * the page is gone; and the page's answers to hostile batches.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  createInspector,
  inspectTo,
  serve,
  type Client,
  type Inspector,
  type InspectStream,
  type Server,
} from '../../src/index.js';
import { startPageServer, type PageServer } from '../../src/tools/inspect/hub.js';
import { MAX_INGEST_BYTES, MAX_INGEST_EVENTS } from '../../src/tools/inspect/ingest.js';
import type { PageModel } from '../../src/tools/inspect/model.js';
import { closeAfterEach, heapAfterGc } from '../helpers.js';
import { eventually as pollUntil } from '../nats-helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let page: PageServer | undefined;
let inspector: Inspector | undefined;
let stream: InspectStream | undefined;
closeAfterEach(() => [client, server, stream, page, inspector]);
afterEach(() => {
  client = server = stream = page = inspector = undefined;
});

/** Polls (bounded) until `condition` holds; a failure, never a measured time. */
const eventually = (condition: () => boolean | Promise<boolean>, what: string) => pollUntil(async () => condition(), what, 400);

const model = async (url: string) => (await (await fetch(new URL('/model.json', url))).json()) as PageModel;

/** POSTs `body` to the page's ingest endpoint. */
const post = (target: PageServer, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(new URL('/ingest', target.url), { method: 'POST', headers, body });

describe('createInspector', () => {
  it("shows a server's and a client's connections and calls on its page, with each state's cause", async () => {
    inspector = await createInspector({ port: 0 });
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    server = await serve({ methods: { add: ([a, b]: [number, number]) => a + b }, inspect: inspector.inspect });
    client = connect(server.url, { inspect: inspector.inspect });
    expect(await client.request('add', [1, 2])).toBe(3);
    await eventually(async () => (await model(inspector!.url)).recent.length === 2, 'both sides of the call on the page');
    const shown = await model(inspector.url);
    expect(shown.counts.client.resolved).toBe(1);
    expect(shown.counts.server.replied).toBe(1);
    expect(Object.values(shown.live.client)).toEqual(['open']);
    expect(Object.values(shown.live.server)).toEqual(['open']);
    const outgoing = shown.recent.find((c) => c.side === 'client')!;
    // Made before the connection opened: it waited in queued.
    expect(outgoing).toMatchObject({ method: 'add', path: ['queued', 'sent', 'awaiting', 'resolved'] });
    expect(outgoing.causes.slice(1)).toEqual(['call.release', 'request.written', 'response.result']);
  });
});

describe('inspectTo', () => {
  it("streams another application's calls to a page, each sessionId prefixed by its source", async () => {
    page = await startPageServer();
    stream = inspectTo(page.url.replace('http:', 'ws:'));
    server = await serve({ methods: { echo: (p: unknown) => p }, inspect: stream.inspect });
    client = connect(server.url);
    await client.request('echo', { n: 1 });
    await eventually(() => page!.model.counts.server.replied === 1, 'the streamed call');
    const [call] = page.model.recent;
    expect(call).toMatchObject({ side: 'server', method: 'echo', path: ['handling', 'replied'] });
    expect(call!.sid).toMatch(/^[\w-]{10}\//);
    expect(stream.dropped).toBe(0);
  });

  it('drops and counts events while the page is gone, holds at most maxBuffered, and reports the count once a page takes events again', async () => {
    page = await startPageServer();
    const { port } = page;
    await page.close();
    stream = inspectTo(`http://127.0.0.1:${port}`, { maxBuffered: 5, interval: 10 });
    server = await serve({ methods: { echo: (p: unknown) => p }, inspect: stream.inspect });
    client = connect(server.url);
    for (let i = 0; i < 20; i++) await client.request('echo', [i]);
    // 20 calls make 40 or more server events: at most 5 are held, the rest dropped at once.
    expect(stream.dropped).toBeGreaterThanOrEqual(35);
    await eventually(() => stream!.dropped >= 40, 'the held events to fail delivery too');
    const lost = stream.dropped;
    page = await startPageServer({ port });
    await client.request('echo', ['after']);
    await eventually(() => page!.model.counts.server.replied === 1, 'the call made once the page is back');
    await eventually(() => page!.model.dropped === lost, 'the dropped count on the page');
  });

  it('does not follow a redirect: a page answering 307 elsewhere gets the events dropped and counted, never re-posted to where it points', async () => {
    page = await startPageServer();
    const elsewhere = page;
    const bounce = createServer((request, response) => {
      request.resume();
      response.writeHead(307, { location: new URL('/ingest', elsewhere.url).href }).end();
    });
    await new Promise<void>((resolve) => bounce.listen(0, '127.0.0.1', resolve));
    try {
      stream = inspectTo(`http://127.0.0.1:${(bounce.address() as AddressInfo).port}`, { interval: 60_000 });
      server = await serve({ methods: { echo: (p: unknown) => p }, inspect: stream.inspect });
      client = connect(server.url);
      await client.request('echo', ['secret']);
      await stream.close();
      expect(stream.dropped).toBeGreaterThan(0);
      expect(page.model.recent).toEqual([]);
      expect(page.model.inflightCount).toBe(0);
    } finally {
      await new Promise((resolve) => bounce.close(resolve));
    }
  });

  it('holds at most maxBuffered events while nothing is sent, drops the rest at once, and sends the held ones and the count on close', async () => {
    page = await startPageServer();
    const { port } = page;
    await page.close();
    // No batch is sent before close(): only the bound decides what is kept.
    stream = inspectTo(`http://127.0.0.1:${port}`, { maxBuffered: 5, interval: 60_000 });
    server = await serve({ methods: { echo: (p: unknown) => p }, inspect: stream.inspect });
    client = connect(server.url);
    for (let i = 0; i < 20; i++) await client.request('echo', [i]);
    expect(stream.buffered).toBe(5);
    const dropped = stream.dropped;
    expect(dropped).toBeGreaterThanOrEqual(35);
    page = await startPageServer({ port });
    await stream.close();
    expect(stream.buffered).toBe(0);
    expect(stream.dropped).toBe(dropped);
    expect(page.model.dropped).toBe(dropped);
    expect(page.model.recent.length + page.model.inflightCount).toBeGreaterThan(0);
  });

  it('close() called twice: each resolves once what was left is sent, not the second at once', async () => {
    page = await startPageServer();
    stream = inspectTo(page.url, { interval: 60_000 });
    server = await serve({ methods: { echo: (p: unknown) => p }, inspect: stream.inspect });
    client = connect(server.url);
    await client.request('echo', [1]);
    await client.close();
    expect(stream.buffered).toBeGreaterThan(0);
    void stream.close();
    await stream.close();
    expect(page.model.recent.map((call) => call.method)).toContain('echo');
  });

  it('refuses a URL it cannot stream to', () => {
    expect(() => inspectTo('nats://127.0.0.1:4222')).toThrow(
      new TypeError('inspectTo needs an http, https, ws or wss URL, got "nats://127.0.0.1:4222"'),
    );
    expect(() => inspectTo('not a url')).toThrow(TypeError);
    // fetch refuses such a URL on every POST: every batch would be dropped, silently.
    expect(() => inspectTo('http://user:secret@127.0.0.1:7070')).toThrow(
      new TypeError('inspectTo needs a URL without credentials (user:password@): the page takes none, and fetch refuses them'),
    );
    expect(() => inspectTo('http://127.0.0.1:1', { maxBuffered: 0 })).toThrow(RangeError);
  });
});

describe('POST /ingest against hostile batches', () => {
  const event = (extra: Record<string, unknown> = {}) => ({
    k: 'call',
    side: 'server',
    sid: 's1',
    method: 'm',
    id: '1',
    state: 'replied',
    done: true,
    at: 1,
    ...extra,
  });

  it('answers 400, 403, 413 and 415 without touching the model, and keeps only events the page knows', async () => {
    page = await startPageServer();
    expect((await post(page, '{ nope')).status).toBe(400);
    expect((await post(page, JSON.stringify({ source: 'bad source!', events: [] }))).status).toBe(400);
    const tooMany = Array.from({ length: MAX_INGEST_EVENTS + 1 }, () => event());
    expect((await post(page, JSON.stringify({ source: 'a', events: tooMany }))).status).toBe(400);
    expect((await post(page, 'x'.repeat(MAX_INGEST_BYTES + 1))).status).toBe(413);
    expect((await post(page, JSON.stringify({ source: 'a', events: [event()] }), { 'content-type': 'text/plain' })).status).toBe(415);
    const foreign = { 'content-type': 'application/json', origin: 'https://evil.example' };
    expect((await post(page, JSON.stringify({ source: 'a', events: [event()] }), foreign)).status).toBe(403);
    expect(page.model.recent).toEqual([]);

    const batch = [
      event({ state: 'madeUp' }), // a state no machine has: the counts are keyed by state
      event({ side: 'elsewhere' }),
      event({ at: 'soon' }),
      { k: 'dropped', n: -5 },
      null,
      event({ method: 'm'.repeat(10_000), sid: 's2' }),
    ];
    expect((await post(page, JSON.stringify({ source: 'a', events: batch }))).status).toBe(204);
    expect(Object.keys(page.model.counts.server).sort()).toEqual(['cancelled', 'failed', 'replied']);
    expect(page.model.dropped).toBe(0);
    expect(page.model.recent).toHaveLength(1);
    expect(page.model.recent[0]!.method).toHaveLength(200);
    expect(page.model.recent[0]!.sid).toBe('a/s2');
  });

  it("cannot touch the page's own calls and connections by naming its source after their sessionIds", async () => {
    inspector = await createInspector({ port: 0 });
    server = await serve({ methods: { hang: () => new Promise(() => {}) }, inspect: inspector.inspect });
    client = connect(server.url);
    void client.request('hang').catch(() => {});
    await eventually(async () => Object.keys((await model(inspector!.url)).inflight).length === 1, 'the call in flight');
    const own = await model(inspector.url);
    const [sid] = Object.keys(own.inflight) as [string];
    const [connection] = Object.keys(own.live.server) as [string];
    // Were a streamed sessionId keyed `source:sid`, these would name the page's own actors.
    const split = (key: string) => [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)] as const;
    const [source, rest] = split(sid);
    const [cSource, cRest] = split(connection);
    const ingest = (events: unknown[], from: string) =>
      fetch(new URL('/ingest', inspector!.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: from, events }),
      });
    expect((await ingest([event({ sid: rest, state: 'replied', done: true })], source)).status).toBe(204);
    expect((await ingest([{ k: 'connection', side: 'server', sid: cRest, state: 'closed', done: true, at: 1 }], cSource)).status).toBe(204);
    const after = await model(inspector.url);
    expect(after.inflight[sid]).toMatchObject({ method: 'hang', state: 'handling' });
    expect(after.live.server[connection]).toBe('open');
    expect(after.recent.map((call) => call.sid)).toEqual([`${source}/${rest}`]);
  });

  it("keeps a state's cause only when it reads as an event type, so that 50 causes of 5,500 calls cannot make the model hundreds of MB", async () => {
    page = await startPageServer();
    // 200 control characters are 1,200 bytes of JSON each: kept for every state of every call, /model.json was 300 MB.
    const escaped = '\u0001'.repeat(200);
    const batch = [
      event({ sid: 's1', state: 'handling', done: false, cause: 'xstate.init' }),
      event({ sid: 's1', state: 'replied', cause: 'xstate.done.actor.0.incomingCall.handling' }),
      event({ sid: 's2', state: 'handling', done: false, cause: escaped }),
      event({ sid: 's2', state: 'replied', cause: '<img src=x onerror=alert(1)>' }),
      event({ sid: 's3', state: 'replied', cause: 'x'.repeat(101) }),
    ];
    expect((await post(page, JSON.stringify({ source: 'a', events: batch }))).status).toBe(204);
    const causes = Object.fromEntries(page.model.recent.map((call) => [call.sid, call.causes]));
    expect(causes).toEqual({
      'a/s1': ['xstate.init', 'xstate.done.actor.0.incomingCall.handling'],
      'a/s2': ['', ''],
      'a/s3': [''],
    });
  });

  it('keeps only the 200 characters it shows of a long string, not the whole string they were cut from', async () => {
    page = await startPageServer();
    // Each batch near the 1 MiB limit, one call in flight whose method is almost all of it.
    const long = 'm'.repeat(MAX_INGEST_BYTES - 1_000);
    const before = heapAfterGc();
    for (let i = 0; i < 100; i++) {
      const body = JSON.stringify({ source: 'a', events: [event({ sid: `s${i}`, method: long, state: 'handling', done: false })] });
      expect((await post(page, body)).status).toBe(204);
    }
    const grown = heapAfterGc() - before;
    expect(page.model.inflightCount).toBe(100);
    expect(Object.values(page.model.inflight).every((call) => call.method.length === 200)).toBe(true);
    // 100 calls of 200-character methods: kilobytes. A cut that shares its parent's memory holds 100 MiB here.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
  });
});

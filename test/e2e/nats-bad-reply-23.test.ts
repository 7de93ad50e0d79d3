/**
 * A reply on a NATS call's own reply subject that does not settle it (not JSON, not a JSON-RPC response, another
 * call's id, an empty payload, bytes that are not UTF-8) fails that call at once, as an HTTP body does its POST's call,
 * instead of leaving it to wait for its timeout; the message is still reported `unmatched`. A reply for a call that
 * settled already fails nothing. The responder is a plain NATS connection: nats-server carries what it publishes as
 * it is. Every call has a 60 s timeout: a test that ends shows the call failed without waiting for it.
 */
import type { Msg } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, ProtocolError, RemoteError, type Client, type UnmatchedEvent } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let subjects = 0;
const stops: Array<() => void> = [];

closeAfterEach(() => {
  const items = [client];
  client = undefined;
  return items;
});
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** A raw responder on a fresh subject that answers nothing by itself: each request waits in `requests` for the test. */
async function rawResponder() {
  const subject = `badreply23.svc${++subjects}`;
  const requests: Array<{ id: string; method: string; reply: string }> = [];
  const sub = nats.raw.subscribe(subject, {
    callback: (_error, msg: Msg) => {
      const frame = JSON.parse(new TextDecoder().decode(msg.data)) as { id: string; method: string };
      requests.push({ id: frame.id, method: frame.method, reply: msg.reply! });
    },
  });
  stops.push(() => sub.unsubscribe());
  await nats.raw.flush();
  const unmatched: UnmatchedEvent[] = [];
  client = connect(nats.url, { subject, timeout: 60_000 });
  client.on('unmatched', (event) => unmatched.push(event));
  await client.ready;
  /** Publishes `payload` (text or bytes) to the reply subject of the `n`th request. */
  const reply = (n: number, payload: string | Uint8Array) => nats.raw.publish(requests[n]!.reply, payload);
  return { client, requests, unmatched, reply };
}

const answer = (id: string, result: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result });

describe('a reply on a NATS call’s own reply subject that does not settle it fails the call at once', () => {
  it.each([
    ['not JSON', 'garbage{', 'a payload that holds no JSON-RPC answer to this call: garbage{', 'malformed'],
    ['JSON but no JSON-RPC response', '{"hello":1}', 'a payload that holds no JSON-RPC answer to this call: {"hello":1}', 'malformed'],
    [
      'a response with an id no call has',
      answer('nope', 1),
      `a payload that holds no JSON-RPC answer to this call: ${answer('nope', 1)}`,
      'unknown',
    ],
  ])('rejects with ProtocolError for a reply that is %s, and reports it unmatched', async (_what, payload, said, reason) => {
    const { client, requests, unmatched, reply } = await rawResponder();
    const call = settle(client.request('echo', ['x']));
    await until(() => requests.length === 1, 'the request');
    reply(0, payload);
    const { error } = await call;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({
      name: 'ProtocolError',
      code: 'ERR_PROTOCOL',
      message: `call "echo" (id ${requests[0]!.id}) was answered on its reply subject with ${said}`,
    });
    await until(() => unmatched.length === 1, 'the unmatched report');
    expect(unmatched[0]!.reason).toBe(reason);
  });

  it('says so for an empty payload and for bytes that are not UTF-8', async () => {
    const { client, requests, unmatched, reply } = await rawResponder();
    const empty = settle(client.request('echo', ['x']));
    const binary = settle(client.request('echo', ['y']));
    await until(() => requests.length === 2, 'both requests');
    reply(0, '');
    reply(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect((await empty).error).toMatchObject({
      name: 'ProtocolError',
      message: `call "echo" (id ${requests[0]!.id}) was answered on its reply subject with no payload`,
    });
    expect((await binary).error).toMatchObject({
      name: 'ProtocolError',
      message: `call "echo" (id ${requests[1]!.id}) was answered on its reply subject with a payload that is not valid UTF-8`,
    });
    await until(() => unmatched.length === 2, 'both unmatched reports');
    expect(unmatched.map((event) => event.reason)).toEqual(['malformed', 'malformed']);
  });

  it('fails the call whose subject it came on, and settles the call whose id it carries', async () => {
    const { client, requests, reply } = await rawResponder();
    const first = settle(client.request('echo', ['a']));
    const second = settle(client.request('echo', ['b']));
    await until(() => requests.length === 2, 'both requests');
    // The second call's answer, on the first call's reply subject.
    reply(0, answer(requests[1]!.id, 'for b'));
    expect(await second).toEqual({ value: 'for b' });
    expect((await first).error).toMatchObject({
      name: 'ProtocolError',
      message: `call "echo" (id ${requests[0]!.id}) was answered on its reply subject with a payload that holds no JSON-RPC answer to this call: ${answer(requests[1]!.id, 'for b')}`,
    });
  });

  it('still fails the call with the RemoteError of an error response with id null', async () => {
    const { client, requests, reply } = await rawResponder();
    const call = settle(client.request('echo', ['x']));
    await until(() => requests.length === 1, 'the request');
    reply(0, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
    const { error } = await call;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: -32700, message: 'Parse error' });
  });
});

describe('a reply for a NATS call that settled already fails nothing', () => {
  it('reports garbage on a settled call’s reply subject and leaves the other pending call to its own answer', async () => {
    const { client, requests, unmatched, reply } = await rawResponder();
    const first = client.request('echo', ['a']);
    const second = settle(client.request('echo', ['b']));
    await until(() => requests.length === 2, 'both requests');
    reply(0, answer(requests[0]!.id, 'a'));
    expect(await first).toBe('a');
    // Late garbage on the first (settled) call's subject, then the second call's own answer.
    reply(0, 'garbage');
    await until(() => unmatched.length === 1, 'the garbage reported');
    reply(1, answer(requests[1]!.id, 'b'));
    expect(await second).toEqual({ value: 'b' });
    expect(unmatched.map((event) => event.reason)).toEqual(['malformed']);
  });

  it('reports a valid answer after the garbage that failed its call as a duplicate', async () => {
    const { client, requests, unmatched, reply } = await rawResponder();
    const call = settle(client.request('echo', ['x']));
    await until(() => requests.length === 1, 'the request');
    reply(0, 'garbage');
    expect((await call).error).toBeInstanceOf(ProtocolError);
    reply(0, answer(requests[0]!.id, 'x'));
    await until(() => unmatched.length === 2, 'both reports');
    expect(unmatched.map((event) => event.reason)).toEqual(['malformed', 'duplicate']);
  });
});

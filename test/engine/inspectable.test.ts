/**
 * What an inspector is handed (src/engine/inspectable.ts): every value JSON can read as it was, the same object;
 * every value it cannot as a marker saying why; and never a throw while deciding which.
 */
import { describe, expect, it } from 'vitest';
import { inspectableEvent, inspectableToJSON, jsonSafe, jsonSafeFields } from '../../src/engine/inspectable.js';
import { errorWithThrowingGetter, throwingProxy } from '../helpers.js';

const boom = () => ({
  get x(): never {
    throw new Error('boom');
  },
});

describe('jsonSafe', () => {
  it('gives back what JSON reads, the same object, and a marker for what it cannot', () => {
    const plain = { a: [1, 'two', null], d: new Date(0) };
    const error = errorWithThrowingGetter('message', new Error('hidden'));
    for (const value of [plain, error, 'text', 1, undefined, null, Symbol('s'), () => 1]) expect(jsonSafe(value)).toBe(value);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonSafe(boom())).toBe('[unserializable: boom]');
    expect(jsonSafe(10n)).toBe('[unserializable: Do not know how to serialize a BigInt]');
    expect(jsonSafe(cyclic)).toBe('[unserializable: Converting circular structure to JSON]');
    expect(jsonSafe(throwingProxy(new Error('trap')))).toBe('[unserializable: trap]');
    const refusing = {
      toJSON: () => {
        throw new Error('no');
      },
    };
    expect(jsonSafe(refusing)).toBe('[unserializable: no]');
  });

  it('never throws itself, whatever was thrown: undefined, a Proxy, a prototype that cannot be read', () => {
    expect(jsonSafe(throwingProxy())).toBe('[unserializable: undefined]');
    expect(jsonSafe(throwingProxy(throwingProxy()))).toBe('[unserializable: an unreadable value was thrown]');
    // JSON.stringify never asks for it; Stately's browser inspector does (`instanceof HTMLElement`).
    expect(jsonSafe({ inner: throwingProxy(new Error('proto'), ['getPrototypeOf']) })).toBe('[unserializable: proto]');
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(jsonSafe(proxy)).toMatch(/^\[unserializable: .*revoked/);
  });
});

describe('jsonSafeFields', () => {
  it('gives back the record itself when JSON reads each field, a copy with markers when it cannot', () => {
    const record = { method: 'm', params: { n: 1 } };
    expect(jsonSafeFields(record)).toBe(record);
    const hostile = { method: 'm', result: boom(), big: 1n };
    expect(jsonSafeFields(hostile)).toEqual({
      method: 'm',
      result: '[unserializable: boom]',
      big: '[unserializable: Do not know how to serialize a BigInt]',
    });
    // A key named __proto__ stays a field of the copy.
    const proto = JSON.parse('{"__proto__": 1, "x": 2}') as object;
    Object.assign(proto, { y: 1n });
    expect(Object.keys(jsonSafeFields(proto) as object)).toEqual(['__proto__', 'x', 'y']);
  });

  it('checks whole what is not a plain record: one with a getter that throws, a toJSON, an array, a class instance', () => {
    expect(jsonSafeFields(boom())).toBe('[unserializable: boom]');
    expect(jsonSafeFields({ toJSON: () => 1n })).toBe('[unserializable: Do not know how to serialize a BigInt]');
    expect(jsonSafeFields([1n])).toBe('[unserializable: Do not know how to serialize a BigInt]');
    expect(jsonSafeFields(throwingProxy(new Error('trap')))).toBe('[unserializable: trap]');
  });
});

describe('inspectableEvent', () => {
  it('hands over the event itself when nothing in it needs a marker', () => {
    const event = { type: '@xstate.snapshot', event: { type: 'x', n: 1 }, snapshot: { status: 'active', context: { a: 1 } } };
    expect(inspectableEvent(event)).toBe(event);
  });

  it("replaces what JSON cannot read in the event and the snapshot's context, output, error and input, keeping the rest", () => {
    const actorRef = {};
    const snapshot = {
      status: 'done',
      value: 'replied',
      context: { method: 'm', result: boom() },
      output: { status: 'failed', error: 2n },
      error: undefined,
      input: { params: throwingProxy(new Error('trap')) },
      matches: () => true,
    };
    const event = { type: '@xstate.snapshot', actorRef, event: { type: 'xstate.done.actor.handler', output: boom() }, snapshot };
    const shown = inspectableEvent(event) as unknown as typeof event;
    expect(shown.actorRef).toBe(actorRef);
    expect(shown.event).toEqual({ type: 'xstate.done.actor.handler', output: '[unserializable: boom]' });
    expect(shown.snapshot).toMatchObject({
      status: 'done',
      value: 'replied',
      context: { method: 'm', result: '[unserializable: boom]' },
      output: { status: 'failed', error: '[unserializable: Do not know how to serialize a BigInt]' },
      input: { params: '[unserializable: trap]' },
    });
    expect(shown.snapshot.matches).toBe(snapshot.matches);
    // The snapshot the actor holds is left as it was.
    expect(snapshot.context.result).not.toBeTypeOf('string');
  });
});

describe('inspectableToJSON', () => {
  it("serializes as XState's own toJSON does (no machine, nodes or methods; tags as an array), with markers", () => {
    const snapshot = {
      status: 'active',
      output: undefined,
      error: undefined,
      machine: {},
      context: { result: boom() },
      _nodes: [],
      value: 'handling',
      tags: new Set(['t']),
      children: {},
      historyValue: {},
      matches: () => true,
      hasTag: () => true,
      can: () => true,
      getMeta: () => ({}),
      toJSON: inspectableToJSON,
    };
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual({
      status: 'active',
      context: { result: '[unserializable: boom]' },
      value: 'handling',
      tags: ['t'],
      children: {},
      historyValue: {},
    });
    // A promise actor's snapshot: no tags.
    expect(JSON.parse(JSON.stringify({ status: 'done', output: 1n, toJSON: inspectableToJSON }))).toEqual({
      status: 'done',
      output: '[unserializable: Do not know how to serialize a BigInt]',
    });
  });
});

/**
 * What callstate's messages say is true: counts agree with their nouns, a size is named in the unit it is counted
 * in, a refusal names the side that refused, and a broken frame is told what is wrong with it.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../src/protocol/jsonrpc.js';
import { validateMethods } from '../src/validate.js';
import { countOf } from '../src/words.js';

describe('a frame with an id and neither "method" nor "result" nor "error"', () => {
  it('is told it has none of them, not that a response needs exactly one of "result" and "error"', () => {
    const reason = 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"';
    expect(decode('{"jsonrpc":"2.0","id":7}')).toEqual({
      kind: 'single',
      message: { kind: 'invalid', id: 7, reason, value: { jsonrpc: '2.0', id: 7 } },
    });
    // With both, the old words still hold.
    expect(decode('{"jsonrpc":"2.0","id":7,"result":1,"error":{"code":1,"message":"m"}}')).toMatchObject({
      message: { kind: 'invalid', reason: 'a response must have exactly one of "result" and "error"' },
    });
  });
});

describe('countOf, the one helper every count in a message goes through', () => {
  it('agrees the noun (and a verb given with it) with the number', () => {
    expect(countOf(1, 'call')).toBe('1 call');
    expect(countOf(0, 'call')).toBe('0 calls');
    expect(countOf(2, 'batch', 'batches')).toBe('2 batches');
    expect(countOf(1, 'call or notification already waits', 'calls and notifications already wait')).toBe(
      '1 call or notification already waits',
    );
  });
});

describe('methods objects whose handlers are on a prototype', () => {
  it('Object.create(methods) is refused as an object, not as "an instance of Object"', () => {
    const base = { echo: (params: unknown) => params };
    expect(() => validateMethods(Object.create(base), 'options.methods')).toThrow(
      new TypeError(
        "options.methods is an object whose methods (echo) are on its prototype: only an object's own properties are served. Pass them as an object, e.g. { echo: (params, ctx) => service.echo(params, ctx) }",
      ),
    );
  });

  it('a class whose handlers are getters on its prototype is refused as one whose methods are there', () => {
    class Service {
      get echo() {
        return (params: unknown) => params;
      }
    }
    expect(() => validateMethods(new Service(), 'options.methods')).toThrow(
      new TypeError(
        "options.methods is an instance of Service whose methods (echo (a getter)) are on its prototype: only an object's own properties are served. Pass them as an object, e.g. { echo: (params, ctx) => service.echo(params, ctx) }",
      ),
    );
    // Own getters are own properties: served.
    const own = {
      get echo() {
        return (params: unknown) => params;
      },
    };
    expect(validateMethods(own, 'options.methods')).toBe(own);
  });
});

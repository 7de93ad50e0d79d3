/**
 * What callstate's messages say is true: counts agree with their nouns, a size is named in the unit it is counted
 * in, a refusal names the side that refused, and a broken frame is told what is wrong with it.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../src/protocol/jsonrpc.js';

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

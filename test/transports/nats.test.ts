import { describe, expect, it } from 'vitest';
import { encode, errorFrame, notificationFrame, requestFrame, resultFrame, CANCEL_METHOD } from '../../src/protocol/jsonrpc.js';
import { cancelSubject, peekFrame } from '../../src/transports/nats.js';

describe('peekFrame (routing outgoing frames to NATS subjects without parsing them)', () => {
  it('reads the id of a request as its reply token', () => {
    expect(peekFrame(encode(requestFrame('V1StGXR8_Z5jdHi6B-myT', 'echo', { a: 1 })))).toEqual({
      kind: 'request',
      token: 'V1StGXR8_Z5jdHi6B-myT',
    });
    expect(peekFrame(encode(requestFrame('abc', 'noParams', undefined)))).toEqual({ kind: 'request', token: 'abc' });
  });

  it('gives no token for an id that cannot be a subject token', () => {
    expect(peekFrame(encode(requestFrame('a.b', 'echo', [])))).toEqual({ kind: 'request', token: undefined });
    expect(peekFrame(encode(requestFrame('a b', 'echo', [])))).toEqual({ kind: 'request', token: undefined });
    expect(peekFrame(encode(requestFrame(7, 'numeric', [])))).toEqual({ kind: 'request', token: undefined });
  });

  it('tells cancellations, notifications and responses apart', () => {
    expect(peekFrame(encode(notificationFrame(CANCEL_METHOD, { id: 'x' })))).toEqual({ kind: 'cancel' });
    expect(peekFrame(encode(notificationFrame('log', { line: 'x' })))).toEqual({ kind: 'notification' });
    expect(peekFrame(encode(resultFrame('x', 1)))).toEqual({ kind: 'response' });
    expect(peekFrame(encode(errorFrame(null, { code: -32700, message: 'parse error' })))).toEqual({ kind: 'response' });
  });

  it('leaves anything else (raw text, batches) to go to the subject as is', () => {
    expect(peekFrame('not json')).toEqual({ kind: 'other' });
    expect(peekFrame('[{"jsonrpc":"2.0","id":"a","method":"m"}]')).toEqual({ kind: 'other' });
  });

  it('publishes cancellations on <subject>.$cancel', () => {
    expect(cancelSubject('math.v1')).toBe('math.v1.$cancel');
  });
});

import { describe, expect, it } from 'vitest';
import { AbortError, CallstateError, ConnectionClosedError, ProtocolError, RemoteError, RpcError, TimeoutError } from '../src/errors.js';

describe('TimeoutError', () => {
  it('is a CallstateError with code ERR_CALL_TIMEOUT and a message naming method, id and timeout', () => {
    const err = new TimeoutError('add', '7', 500);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toBeInstanceOf(CallstateError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'TimeoutError',
      code: 'ERR_CALL_TIMEOUT',
      message: 'call "add" (id 7) got no response within 500 ms',
    });
  });

  it('exposes method, id and timeout', () => {
    const err = new TimeoutError('users.get', 'abc', 1234);
    expect({ method: err.method, id: err.id, timeout: err.timeout }).toEqual({
      method: 'users.get',
      id: 'abc',
      timeout: 1234,
    });
  });

  it('has no cause', () => {
    expect('cause' in new TimeoutError('m', '1', 1)).toBe(false);
  });

  it('uses its name in String() and in the stack', () => {
    const err = new TimeoutError('m', '1', 10);
    expect(String(err)).toBe('TimeoutError: call "m" (id 1) got no response within 10 ms');
    expect(err.stack?.split('\n')[0]).toBe('TimeoutError: call "m" (id 1) got no response within 10 ms');
  });
});

describe('ConnectionClosedError', () => {
  it('is a CallstateError with code ERR_CONNECTION_CLOSED and the given message', () => {
    const err = new ConnectionClosedError('the connection closed');
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).toBeInstanceOf(CallstateError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'ConnectionClosedError',
      code: 'ERR_CONNECTION_CLOSED',
      message: 'the connection closed',
    });
  });

  it('exposes closeCode, closeReason and cause when given', () => {
    const cause = new Error('ECONNRESET');
    const err = new ConnectionClosedError('socket closed', { closeCode: 1011, closeReason: 'server error', cause });
    expect(err.closeCode).toBe(1011);
    expect(err.closeReason).toBe('server error');
    expect(err.cause).toBe(cause);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'ConnectionClosedError',
      code: 'ERR_CONNECTION_CLOSED',
      message: 'socket closed',
    });
  });

  it('defaults closeCode to undefined, closeReason to "" and has no cause without details', () => {
    const err = new ConnectionClosedError('closed by the caller');
    expect(err.closeCode).toBeUndefined();
    expect(err.closeReason).toBe('');
    expect('cause' in err).toBe(false);
  });

  it('keeps a close code given without a reason', () => {
    const err = new ConnectionClosedError('closed', { closeCode: 1006 });
    expect(err.closeCode).toBe(1006);
    expect(err.closeReason).toBe('');
    expect('cause' in err).toBe(false);
  });

  it('keeps a falsy cause other than undefined', () => {
    const err = new ConnectionClosedError('closed', { cause: null });
    expect('cause' in err).toBe(true);
    expect(err.cause).toBeNull();
  });
});

describe('RemoteError', () => {
  it('is a CallstateError whose code is the numeric JSON-RPC code', () => {
    const err = new RemoteError(-32601, 'Method not found');
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toBeInstanceOf(CallstateError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'RemoteError',
      code: -32601,
      message: 'Method not found',
    });
  });

  it('exposes the error object data', () => {
    const data = { field: 'b', expected: 'number' };
    const err = new RemoteError(-32602, 'Invalid params', data);
    expect(err.data).toBe(data);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'RemoteError',
      code: -32602,
      message: 'Invalid params',
    });
  });

  it('leaves data undefined when the error object had none', () => {
    expect(new RemoteError(1, 'custom').data).toBeUndefined();
  });

  it('keeps falsy data such as null and 0', () => {
    expect(new RemoteError(1, 'm', null).data).toBeNull();
    expect(new RemoteError(1, 'm', 0).data).toBe(0);
  });
});

describe('AbortError', () => {
  it('is a CallstateError with code ERR_CALL_ABORTED and a default message', () => {
    const err = new AbortError();
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toBeInstanceOf(CallstateError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'AbortError',
      code: 'ERR_CALL_ABORTED',
      message: 'the call was aborted',
    });
  });

  it('accepts a custom message', () => {
    const err = new AbortError('stopped by user');
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'AbortError',
      code: 'ERR_CALL_ABORTED',
      message: 'stopped by user',
    });
  });

  it('is not the DOMException thrown by AbortSignal', () => {
    expect(new AbortError()).not.toBeInstanceOf(DOMException);
  });
});

describe('ProtocolError', () => {
  it('is a CallstateError with code ERR_PROTOCOL and the given message', () => {
    const err = new ProtocolError('could not encode params');
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toBeInstanceOf(CallstateError);
    expect(err).toBeInstanceOf(Error);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'ProtocolError',
      code: 'ERR_PROTOCOL',
      message: 'could not encode params',
    });
    expect('cause' in err).toBe(false);
  });

  it('keeps the cause it was given', () => {
    const cause = new TypeError('Do not know how to serialize a BigInt');
    const err = new ProtocolError('could not encode params', { cause });
    expect(err.cause).toBe(cause);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'ProtocolError',
      code: 'ERR_PROTOCOL',
      message: 'could not encode params',
    });
  });
});

describe('RpcError', () => {
  it('is an Error but not a CallstateError', () => {
    const err = new RpcError(-32602, 'b must be a number');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(CallstateError);
    expect({ name: err.name, code: err.code, message: err.message }).toEqual({
      name: 'RpcError',
      code: -32602,
      message: 'b must be a number',
    });
  });

  it('exposes data when given and leaves it undefined otherwise', () => {
    const data = { field: 'b' };
    expect(new RpcError(42, 'custom', data).data).toBe(data);
    expect(new RpcError(42, 'custom').data).toBeUndefined();
  });
});

describe('error classes as a family', () => {
  it('are told apart by instanceof', () => {
    const errors = [
      new TimeoutError('m', '1', 1),
      new ConnectionClosedError('c'),
      new RemoteError(1, 'r'),
      new AbortError(),
      new ProtocolError('p'),
    ];
    const classes = [TimeoutError, ConnectionClosedError, RemoteError, AbortError, ProtocolError];
    errors.forEach((err, i) => {
      classes.forEach((cls, j) => {
        expect(err instanceof cls).toBe(i === j);
      });
    });
  });

  it('have distinct names and codes', () => {
    const errors = [new TimeoutError('m', '1', 1), new ConnectionClosedError('c'), new AbortError(), new ProtocolError('p')];
    expect(new Set(errors.map((e) => e.name)).size).toBe(errors.length);
    expect(new Set(errors.map((e) => e.code)).size).toBe(errors.length);
  });

  it('can be caught from a rejected promise with class, code and message intact', async () => {
    await expect(Promise.reject(new TimeoutError('slow', '3', 50))).rejects.toSatisfy(
      (err: unknown) =>
        err instanceof TimeoutError && err.code === 'ERR_CALL_TIMEOUT' && err.message === 'call "slow" (id 3) got no response within 50 ms',
    );
  });
});

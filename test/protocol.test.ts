import { afterEach, describe, expect, it } from 'vitest';
import {
  CANCEL_METHOD,
  cancelFrame,
  classify,
  decode,
  depthExceeds,
  encode,
  encodeResult,
  errorFrame,
  ErrorCodes,
  notificationFrame,
  requestFrame,
  resultFrame,
  type Decoded,
  type Message,
} from '../src/protocol/jsonrpc.js';

/** Decodes a frame that must be a single message and returns that message. */
function single(text: string): Message {
  const decoded = decode(text);
  if (decoded.kind !== 'single') throw new Error(`expected a single message, got ${decoded.kind}`);
  return decoded.message;
}

describe('decode: valid single messages', () => {
  it('classifies a request with a string id and array params', () => {
    const text = '{"jsonrpc":"2.0","id":"abc","method":"sum","params":[1,2,3]}';
    expect(decode(text)).toEqual({
      kind: 'single',
      message: { kind: 'request', frame: { jsonrpc: '2.0', id: 'abc', method: 'sum', params: [1, 2, 3] } },
    });
  });

  it('classifies a request with a number id and object params', () => {
    expect(single('{"jsonrpc":"2.0","id":42,"method":"add","params":{"a":1,"b":2}}')).toEqual({
      kind: 'request',
      frame: { jsonrpc: '2.0', id: 42, method: 'add', params: { a: 1, b: 2 } },
    });
  });

  it('classifies a request whose id is 0, a negative number or an empty string', () => {
    for (const id of ['0', '-7', '""']) {
      const message = single(`{"jsonrpc":"2.0","id":${id},"method":"m"}`);
      expect(message.kind).toBe('request');
      expect(message.kind === 'request' && message.frame.id).toBe(JSON.parse(id));
    }
  });

  it('classifies a request without params and does not invent a params member', () => {
    const message = single('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    expect(message).toEqual({ kind: 'request', frame: { jsonrpc: '2.0', id: 1, method: 'ping' } });
    expect(message.kind === 'request' && 'params' in message.frame).toBe(false);
  });

  it('classifies a message with a method and no id as a notification', () => {
    expect(single('{"jsonrpc":"2.0","method":"update","params":[1]}')).toEqual({
      kind: 'notification',
      frame: { jsonrpc: '2.0', method: 'update', params: [1] },
    });
    expect(single('{"jsonrpc":"2.0","method":"tick"}')).toEqual({
      kind: 'notification',
      frame: { jsonrpc: '2.0', method: 'tick' },
    });
  });

  it('classifies the LSP cancellation notice as a notification', () => {
    expect(CANCEL_METHOD).toBe('$/cancelRequest');
    expect(single('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}')).toEqual({
      kind: 'notification',
      frame: { jsonrpc: '2.0', method: CANCEL_METHOD, params: { id: 3 } },
    });
  });

  it('classifies a result response, including falsy results such as null, 0 and false', () => {
    expect(single('{"jsonrpc":"2.0","id":1,"result":{"sum":6}}')).toEqual({
      kind: 'result',
      frame: { jsonrpc: '2.0', id: 1, result: { sum: 6 } },
    });
    for (const result of ['null', '0', 'false', '""']) {
      expect(single(`{"jsonrpc":"2.0","id":"x","result":${result}}`)).toEqual({
        kind: 'result',
        frame: { jsonrpc: '2.0', id: 'x', result: JSON.parse(result) },
      });
    }
  });

  it('classifies an error response with a number id and data', () => {
    expect(single('{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found","data":{"method":"nope"}}}')).toEqual({
      kind: 'error',
      frame: { jsonrpc: '2.0', id: 5, error: { code: -32601, message: 'Method not found', data: { method: 'nope' } } },
    });
  });

  it('classifies an error response whose id is null', () => {
    expect(single('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}')).toEqual({
      kind: 'error',
      frame: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
    });
  });

  it('accepts an application-defined positive integer error code', () => {
    expect(single('{"jsonrpc":"2.0","id":"a","error":{"code":42,"message":"custom"}}').kind).toBe('error');
  });

  it('accepts surrounding whitespace', () => {
    expect(single('  \n{"jsonrpc":"2.0","method":"m"}\t ').kind).toBe('notification');
  });

  it('skips a byte order mark before the JSON, and only there', () => {
    expect(single('\uFEFF{"jsonrpc":"2.0","id":"b","result":1}').kind).toBe('result');
    expect(decode(' \uFEFF{"jsonrpc":"2.0","id":"b","result":1}').kind).toBe('unparseable');
  });

  it('takes a JSON-RPC 1.0 style response: "error": null beside a result, "result": null beside an error, no "jsonrpc"', () => {
    const cases: Array<[text: string, kind: Message['kind']]> = [
      ['{"jsonrpc":"2.0","id":"a","result":5,"error":null}', 'result'],
      ['{"jsonrpc":"2.0","id":"a","result":null,"error":null}', 'result'],
      ['{"jsonrpc":"2.0","id":"a","result":null,"error":{"code":-1,"message":"m"}}', 'error'],
      ['{"result":"v","error":null,"id":1}', 'result'],
      ['{"result":null,"error":{"code":-8,"message":"m"},"id":1}', 'error'],
      ['{"id":1,"result":[1]}', 'result'],
      ['{"id":null,"error":{"code":-32700,"message":"Parse error"}}', 'error'],
    ];
    for (const [text, kind] of cases) expect(single(text)).toEqual({ kind, frame: JSON.parse(text) });
  });
});

describe('decode: invalid messages', () => {
  const NOT_OBJECT = 'a message must be a JSON object';
  const BAD_VERSION = '"jsonrpc" must be exactly "2.0"';
  const BAD_METHOD = '"method" must be a string';
  const BAD_PARAMS = '"params" must be an array or an object';
  const BAD_ID = '"id" must be a string or a number';
  const BAD_ERROR_ID = '"id" must be a string, a number or null';
  const UNSAFE_ID =
    '"id" must be a string or an integer from -(2^53 - 1) to 2^53 - 1: a number id beyond that or with a fraction cannot be read exactly';
  const ONE_OF = 'a response must have exactly one of "result" and "error"';
  const NEITHER = 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"';
  const NO_ID = 'a response must have an "id"';
  const BAD_ERROR = '"error" must be an object with an integer "code" and a string "message"';
  const BAD_CODE = '"error.code" must be an integer';
  const BAD_MESSAGE = '"error.message" must be a string';

  const cases: Array<[behaviour: string, text: string, reason: string, id: string | number | null]> = [
    ['a number is not a message', '42', NOT_OBJECT, null],
    ['a string is not a message', '"hello"', NOT_OBJECT, null],
    ['null is not a message', 'null', NOT_OBJECT, null],
    ['a boolean is not a message', 'true', NOT_OBJECT, null],
    ['a missing "jsonrpc" is rejected and the id is still read', '{"id":1,"method":"a"}', BAD_VERSION, 1],
    ['a missing "jsonrpc" is rejected on a notification', '{"method":"a"}', BAD_VERSION, null],
    ['a missing "jsonrpc" is rejected on what is no response', '{"id":"q"}', BAD_VERSION, 'q'],
    ['a missing "jsonrpc" is rejected on a method beside a result', '{"id":1,"method":"a","result":1}', BAD_VERSION, 1],
    ['a response without "jsonrpc" is still checked', '{"id":1,"result":1,"error":{"code":1,"message":"m"}}', ONE_OF, 1],
    ['"jsonrpc": "1.0" is rejected', '{"jsonrpc":"1.0","id":"r1","method":"a"}', BAD_VERSION, 'r1'],
    ['"jsonrpc" as the number 2.0 is rejected', '{"jsonrpc":2.0,"id":3,"method":"a"}', BAD_VERSION, 3],
    ['"jsonrpc": "2" is rejected', '{"jsonrpc":"2","id":3,"result":1}', BAD_VERSION, 3],
    ['a numeric method is rejected', '{"jsonrpc":"2.0","id":1,"method":5}', BAD_METHOD, 1],
    ['a null method is rejected', '{"jsonrpc":"2.0","id":1,"method":null}', BAD_METHOD, 1],
    ['an object method is rejected', '{"jsonrpc":"2.0","method":{}}', BAD_METHOD, null],
    ['string params are rejected', '{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}', BAD_PARAMS, 1],
    ['number params are rejected', '{"jsonrpc":"2.0","id":1,"method":"m","params":3}', BAD_PARAMS, 1],
    ['boolean params are rejected', '{"jsonrpc":"2.0","id":1,"method":"m","params":true}', BAD_PARAMS, 1],
    ['primitive params are rejected on a notification too', '{"jsonrpc":"2.0","method":"m","params":1}', BAD_PARAMS, null],
    ['a boolean request id is rejected', '{"jsonrpc":"2.0","id":true,"method":"m"}', BAD_ID, null],
    ['an object request id is rejected', '{"jsonrpc":"2.0","id":{"n":1},"method":"m"}', BAD_ID, null],
    ['an array request id is rejected', '{"jsonrpc":"2.0","id":[1],"method":"m"}', BAD_ID, null],
    ['a null request id is rejected', '{"jsonrpc":"2.0","id":null,"method":"m"}', BAD_ID, null],
    ['a request id that overflows to Infinity is rejected', '{"jsonrpc":"2.0","id":1e400,"method":"m"}', UNSAFE_ID, null],
    [
      'a request id beyond 2^53, which JSON.parse rounds, is rejected',
      '{"jsonrpc":"2.0","id":9007199254740993,"method":"echo"}',
      UNSAFE_ID,
      null,
    ],
    ['a negative request id beyond -2^53 is rejected', '{"jsonrpc":"2.0","id":-9007199254740992,"method":"m"}', UNSAFE_ID, null],
    ['a fractional request id is rejected', '{"jsonrpc":"2.0","id":1.5,"method":"m"}', UNSAFE_ID, null],
    [
      'a response with both result and error is rejected',
      '{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}',
      ONE_OF,
      1,
    ],
    ['a message with neither method, result nor error is rejected', '{"jsonrpc":"2.0","id":"q"}', NEITHER, 'q'],
    ['an empty object is rejected', '{"jsonrpc":"2.0"}', NEITHER, null],
    ['a result without an id is rejected', '{"jsonrpc":"2.0","result":1}', NO_ID, null],
    ['an error without an id is rejected', '{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}', NO_ID, null],
    ['a result with a null id is rejected', '{"jsonrpc":"2.0","id":null,"result":1}', BAD_ID, null],
    ['a result with a boolean id is rejected', '{"jsonrpc":"2.0","id":false,"result":1}', BAD_ID, null],
    ['a result with an Infinity id is rejected', '{"jsonrpc":"2.0","id":-1e999,"result":1}', UNSAFE_ID, null],
    ['a result with an id beyond 2^53 is rejected, never matched', '{"jsonrpc":"2.0","id":9007199254740993,"result":1}', UNSAFE_ID, null],
    ['a result with a fractional id is rejected', '{"jsonrpc":"2.0","id":0.1,"result":1}', UNSAFE_ID, null],
    [
      'an error with an id beyond 2^53 is rejected, never matched',
      '{"jsonrpc":"2.0","id":9007199254740993,"error":{"code":1,"message":"m"}}',
      UNSAFE_ID,
      null,
    ],
    ['an error with a boolean id is rejected', '{"jsonrpc":"2.0","id":true,"error":{"code":1,"message":"m"}}', BAD_ERROR_ID, null],
    ['an error with an object id is rejected', '{"jsonrpc":"2.0","id":{},"error":{"code":1,"message":"m"}}', BAD_ERROR_ID, null],
    ['a null error object is rejected', '{"jsonrpc":"2.0","id":5,"error":null}', BAD_ERROR, 5],
    ['a string error object is rejected', '{"jsonrpc":"2.0","id":5,"error":"boom"}', BAD_ERROR, 5],
    ['a null result beside a null id is rejected', '{"id":null,"result":null,"error":null}', BAD_ID, null],
    ['an array error object is rejected', '{"jsonrpc":"2.0","id":5,"error":[-32600,"m"]}', BAD_ERROR, 5],
    ['an error with a string code is rejected', '{"jsonrpc":"2.0","id":5,"error":{"code":"1","message":"m"}}', BAD_CODE, 5],
    ['an error with a fractional code is rejected', '{"jsonrpc":"2.0","id":5,"error":{"code":1.5,"message":"m"}}', BAD_CODE, 5],
    ['an error without a code is rejected', '{"jsonrpc":"2.0","id":5,"error":{"message":"m"}}', BAD_CODE, 5],
    ['an error without a message is rejected', '{"jsonrpc":"2.0","id":"e","error":{"code":1}}', BAD_MESSAGE, 'e'],
    ['an error with a numeric message is rejected', '{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":2}}', BAD_MESSAGE, 5],
  ];

  it.each(cases)('%s', (_behaviour, text, reason, id) => {
    expect(decode(text)).toEqual({
      kind: 'single',
      message: { kind: 'invalid', id, reason, value: JSON.parse(text) },
    });
  });

  it('keeps the parsed value on an invalid message', () => {
    const message = single('{"jsonrpc":"1.0","id":1,"method":"m","extra":[1]}');
    expect(message.kind === 'invalid' && message.value).toEqual({ jsonrpc: '1.0', id: 1, method: 'm', extra: [1] });
  });
});

describe('decode: readable id of invalid messages', () => {
  function invalidId(text: string): unknown {
    const message = single(text);
    expect(message.kind).toBe('invalid');
    return message.kind === 'invalid' ? message.id : undefined;
  }

  it('reports a string or safe integer id when one can be read', () => {
    expect(invalidId('{"jsonrpc":"1.0","id":"abc","method":"m"}')).toBe('abc');
    expect(invalidId('{"jsonrpc":"1.0","id":0,"method":"m"}')).toBe(0);
    expect(invalidId('{"jsonrpc":"1.0","id":9007199254740991,"method":"m"}')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reports null when the id is missing, null, boolean, an object, an array, not finite, fractional or beyond 2^53', () => {
    for (const id of ['null', 'true', '{}', '[1]', '1e400', '-2.5', '9007199254740993']) {
      expect(invalidId(`{"jsonrpc":"1.0","id":${id},"method":"m"}`)).toBeNull();
    }
    expect(invalidId('{"jsonrpc":"1.0","method":"m"}')).toBeNull();
  });

  it('reports null for a non-object message', () => {
    expect(invalidId('"id"')).toBeNull();
    expect(invalidId('7')).toBeNull();
  });

  it('does not read an id from an inherited property', () => {
    // `"__proto__"` in JSON is an own key; the id inside it is not the message's id.
    expect(invalidId('{"jsonrpc":"1.0","__proto__":{"id":9},"method":"m"}')).toBeNull();
  });
});

describe('decode: unparseable input', () => {
  it.each([
    ['an empty string', ''],
    ['an unterminated object', '{"jsonrpc":"2.0"'],
    ['plain text', 'not json'],
    ['single-quoted keys', "{'jsonrpc':'2.0'}"],
    ['a trailing comma', '{"jsonrpc":"2.0","method":"m",}'],
    ['a bare NaN', 'NaN'],
  ])('answers %s with a parse error (-32700)', (_name, text) => {
    const decoded = decode(text);
    expect(decoded.kind).toBe('unparseable');
    if (decoded.kind !== 'unparseable') return;
    expect(decoded.code).toBe(-32700);
    expect(decoded.code).toBe(ErrorCodes.ParseError);
    expect(decoded.reason).toMatch(/^not valid JSON: .+/);
  });

  it('answers an empty batch with an invalid request (-32600)', () => {
    expect(decode('[]')).toEqual({ kind: 'unparseable', reason: 'empty batch', code: -32600 });
    expect(decode(' [ ] ')).toEqual({ kind: 'unparseable', reason: 'empty batch', code: ErrorCodes.InvalidRequest });
  });

  it('never throws, whatever the input', () => {
    for (const text of ['', '[', ']', '{}}', '\u0000', '[[[', '"\\u12"']) {
      expect(() => decode(text)).not.toThrow();
    }
  });
});

describe('decode: batches', () => {
  it('classifies every item of a batch mixing valid and invalid messages, in order', () => {
    const text = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'a', params: [1] },
      5,
      { jsonrpc: '2.0', method: 'n' },
      { jsonrpc: '2.0', id: 2, result: 3 },
      { id: 9, method: 'x' },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } },
      [],
      { jsonrpc: '2.0', id: 'z', method: 'm', params: 'bad' },
    ]);
    const decoded = decode(text);
    expect(decoded.kind).toBe('batch');
    if (decoded.kind !== 'batch') return;
    expect(decoded.messages).toEqual([
      { kind: 'request', frame: { jsonrpc: '2.0', id: 1, method: 'a', params: [1] } },
      { kind: 'invalid', id: null, reason: 'a message must be a JSON object', value: 5 },
      { kind: 'notification', frame: { jsonrpc: '2.0', method: 'n' } },
      { kind: 'result', frame: { jsonrpc: '2.0', id: 2, result: 3 } },
      { kind: 'invalid', id: 9, reason: '"jsonrpc" must be exactly "2.0"', value: { id: 9, method: 'x' } },
      { kind: 'error', frame: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } } },
      { kind: 'invalid', id: null, reason: 'a message must be a JSON object', value: [] },
      {
        kind: 'invalid',
        id: 'z',
        reason: '"params" must be an array or an object',
        value: { jsonrpc: '2.0', id: 'z', method: 'm', params: 'bad' },
      },
    ]);
  });

  it('returns a batch, not a single message, for a one-item array', () => {
    expect(decode('[{"jsonrpc":"2.0","method":"m"}]')).toEqual({
      kind: 'batch',
      messages: [{ kind: 'notification', frame: { jsonrpc: '2.0', method: 'm' } }],
    });
  });

  it('classifies a batch of only non-objects as a batch of invalid messages', () => {
    const decoded: Decoded = decode('[1,"a",null]');
    expect(decoded).toEqual({
      kind: 'batch',
      messages: [
        { kind: 'invalid', id: null, reason: 'a message must be a JSON object', value: 1 },
        { kind: 'invalid', id: null, reason: 'a message must be a JSON object', value: 'a' },
        { kind: 'invalid', id: null, reason: 'a message must be a JSON object', value: null },
      ],
    });
  });
});

describe('classify', () => {
  it('rejects undefined and arrays as non-objects', () => {
    expect(classify(undefined)).toEqual({
      kind: 'invalid',
      id: null,
      reason: 'a message must be a JSON object',
      value: undefined,
    });
    expect(classify([{ jsonrpc: '2.0', method: 'm' }])).toMatchObject({
      kind: 'invalid',
      id: null,
      reason: 'a message must be a JSON object',
    });
  });

  it('returns the very object it was given as the frame', () => {
    const value = { jsonrpc: '2.0', id: 1, method: 'm' };
    const message = classify(value);
    expect(message.kind === 'request' && message.frame).toBe(value);
  });
});

describe('decode: prototype pollution', () => {
  afterEach(() => {
    // Clean up in case a regression did pollute, so that other tests are not affected.
    for (const key of ['polluted', 'pollutedParams', 'pollutedResult', 'pollutedBatch', 'pollutedCtor', 'method', 'result', 'id']) {
      delete (Object.prototype as Record<string, unknown>)[key];
    }
  });

  it('does not pollute Object.prototype through a top-level "__proto__" key', () => {
    const message = single('{"jsonrpc":"2.0","method":"m","__proto__":{"polluted":"yes"}}');
    expect(message.kind).toBe('notification');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    if (message.kind !== 'notification') return;
    expect(Object.getPrototypeOf(message.frame)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(message.frame, '__proto__')).toBe(true);
    expect((message.frame as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not pollute Object.prototype through "__proto__" in params, result, error data or a batch', () => {
    single('{"jsonrpc":"2.0","id":1,"method":"m","params":{"__proto__":{"pollutedParams":1}}}');
    single('{"jsonrpc":"2.0","id":1,"result":{"__proto__":{"pollutedResult":1}}}');
    single('{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":{"__proto__":{"polluted":1}}}}');
    decode('[{"__proto__":{"pollutedBatch":1}},{"jsonrpc":"2.0","method":"m","__proto__":{"pollutedBatch":1}}]');
    const probe = {} as Record<string, unknown>;
    expect(probe.polluted).toBeUndefined();
    expect(probe.pollutedParams).toBeUndefined();
    expect(probe.pollutedResult).toBeUndefined();
    expect(probe.pollutedBatch).toBeUndefined();
  });

  it('does not pollute Object.prototype through "constructor.prototype"', () => {
    single('{"jsonrpc":"2.0","method":"m","params":{"constructor":{"prototype":{"pollutedCtor":1}}}}');
    expect(({} as Record<string, unknown>).pollutedCtor).toBeUndefined();
  });

  it("takes no member inherited from an Object.prototype changed by someone else for the message's own", () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.result = 'inherited';
    expect(single('{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}').kind).toBe('error');
    expect(single('{"jsonrpc":"2.0","id":1}')).toMatchObject({
      kind: 'invalid',
      reason: 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"',
    });
    proto.method = 'inherited';
    proto.id = 7;
    expect(single('{"jsonrpc":"2.0","id":1,"result":2}').kind).toBe('result');
    expect(single('{"jsonrpc":"2.0","method":"m"}').kind).toBe('notification');
    expect(single('{"jsonrpc":"2.0","result":2}')).toMatchObject({ kind: 'invalid', reason: 'a response must have an "id"' });
  });

  it('does not let a "__proto__" key supply "jsonrpc" or "method"', () => {
    expect(single('{"__proto__":{"jsonrpc":"2.0","method":"m"}}')).toMatchObject({
      kind: 'invalid',
      reason: '"jsonrpc" must be exactly "2.0"',
    });
    expect(single('{"jsonrpc":"2.0","__proto__":{"method":"m"}}')).toMatchObject({
      kind: 'invalid',
      reason: 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"',
    });
  });
});

describe('frame builders and encode', () => {
  it('encodes a request with params', () => {
    expect(encode(requestFrame(1, 'add', [1, 2]))).toBe('{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}');
    expect(encode(requestFrame('a1', 'get', { key: 'k' }))).toBe('{"jsonrpc":"2.0","id":"a1","method":"get","params":{"key":"k"}}');
  });

  it('omits params from a request when they are undefined', () => {
    const frame = requestFrame('x', 'ping', undefined);
    expect('params' in frame).toBe(false);
    expect(encode(frame)).toBe('{"jsonrpc":"2.0","id":"x","method":"ping"}');
  });

  it('keeps null params on a request', () => {
    expect(encode(requestFrame(2, 'm', null))).toBe('{"jsonrpc":"2.0","id":2,"method":"m","params":null}');
  });

  it('encodes a notification, omitting undefined params', () => {
    expect(encode(notificationFrame('update', [3]))).toBe('{"jsonrpc":"2.0","method":"update","params":[3]}');
    const frame = notificationFrame('tick', undefined);
    expect('params' in frame).toBe(false);
    expect(encode(frame)).toBe('{"jsonrpc":"2.0","method":"tick"}');
  });

  it('encodes a result', () => {
    expect(encode(resultFrame(1, { sum: 3 }))).toBe('{"jsonrpc":"2.0","id":1,"result":{"sum":3}}');
  });

  it('encodes an undefined result as null', () => {
    const frame = resultFrame('r', undefined);
    expect(frame).toEqual({ jsonrpc: '2.0', id: 'r', result: null });
    expect(encode(frame)).toBe('{"jsonrpc":"2.0","id":"r","result":null}');
  });

  it('keeps falsy results other than undefined', () => {
    expect(encode(resultFrame(1, 0))).toBe('{"jsonrpc":"2.0","id":1,"result":0}');
    expect(encode(resultFrame(1, false))).toBe('{"jsonrpc":"2.0","id":1,"result":false}');
    expect(encode(resultFrame(1, ''))).toBe('{"jsonrpc":"2.0","id":1,"result":""}');
    expect(encode(resultFrame(1, null))).toBe('{"jsonrpc":"2.0","id":1,"result":null}');
  });

  it('encodes a result as encode(resultFrame()) would, in one JSON.stringify of the result', () => {
    for (const [id, result] of [
      [1, { sum: 3 }],
      ['r', [1, 'a']],
      [0, 0],
      [2, false],
      [3, ''],
      [4, null],
      ['q', 'x"y'],
    ] as const) {
      expect(encodeResult(id, result)).toBe(encode(resultFrame(id, result)));
    }
  });

  it('encodes a $/cancelRequest notice as the notification frame would be, whatever the id holds', () => {
    for (const id of ['V1StGXR8_Z5jdHi6B-myT', 'q"\\\n\u2028', '', 0, -7, Number.MAX_SAFE_INTEGER]) {
      expect(cancelFrame(id)).toBe(encode(notificationFrame(CANCEL_METHOD, { id })));
      expect(decode(cancelFrame(id))).toEqual({
        kind: 'single',
        message: { kind: 'notification', frame: notificationFrame(CANCEL_METHOD, { id }) },
      });
    }
  });

  it('encodes a result that JSON would drop (undefined, a function, a symbol, a toJSON returning undefined) as null', () => {
    for (const result of [undefined, () => 1, Symbol('s'), { toJSON: () => undefined }]) {
      expect(encodeResult('r', result)).toBe('{"jsonrpc":"2.0","id":"r","result":null}');
    }
  });

  it('throws a TypeError for a BigInt or a cycle in a result', () => {
    expect(() => encodeResult(1, 1n)).toThrow(new TypeError('Do not know how to serialize a BigInt'));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeResult(1, cycle)).toThrow(TypeError);
  });

  it('encodes an error with and without data, and with a null id', () => {
    expect(encode(errorFrame(7, { code: -32601, message: 'Method not found' }))).toBe(
      '{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}',
    );
    expect(encode(errorFrame('q', { code: -32602, message: 'Invalid params', data: { field: 'b' } }))).toBe(
      '{"jsonrpc":"2.0","id":"q","error":{"code":-32602,"message":"Invalid params","data":{"field":"b"}}}',
    );
    expect(encode(errorFrame(null, { code: -32700, message: 'Parse error' }))).toBe(
      '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
    );
  });

  it('encodes a batch as a JSON array', () => {
    expect(encode([requestFrame(1, 'a', undefined), notificationFrame('b', undefined)])).toBe(
      '[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]',
    );
  });

  it('throws a TypeError for values JSON cannot represent', () => {
    expect(() => encode(requestFrame(1, 'm', [1n]))).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encode(resultFrame(1, cycle))).toThrow(TypeError);
  });

  it('round-trips every frame kind through encode and decode', () => {
    const frames = [
      requestFrame(1, 'a', { x: 1 }),
      notificationFrame('n', [1]),
      resultFrame('r', undefined),
      errorFrame(null, { code: -32600, message: 'Invalid Request' }),
    ];
    expect(frames.map((f) => single(encode(f)).kind)).toEqual(['request', 'notification', 'result', 'error']);
    expect(frames.map((f) => (single(encode(f)) as { frame: unknown }).frame)).toEqual(frames);
  });
});

describe('ErrorCodes', () => {
  it('uses the JSON-RPC 2.0 specification values', () => {
    expect(ErrorCodes.ParseError).toBe(-32700);
    expect(ErrorCodes.InvalidRequest).toBe(-32600);
    expect(ErrorCodes.MethodNotFound).toBe(-32601);
    expect(ErrorCodes.InvalidParams).toBe(-32602);
    expect(ErrorCodes.InternalError).toBe(-32603);
  });

  it("uses the Language Server Protocol's value for a cancelled request", () => {
    expect(ErrorCodes.RequestCancelled).toBe(-32800);
  });
});

describe('decode limits', () => {
  it('answers a batch longer than maxBatch with -32600, and checks nothing when no limit is given', () => {
    const batch = JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'm' })));
    expect(decode(batch, { maxBatch: 2 })).toEqual({
      kind: 'unparseable',
      reason: 'batch of 3 messages exceeds 2 (maxBatch)',
      code: -32600,
    });
    expect(decode(batch, { maxBatch: 3 }).kind).toBe('batch');
    expect(decode(batch).kind).toBe('batch');
  });

  it('counts nesting from the frame itself, arrays and objects alike', () => {
    const frame = '{"jsonrpc":"2.0","method":"m","params":{"a":[{"b":[]}]}}'; // depth 5
    expect(decode(frame, { maxDepth: 5 }).kind).toBe('single');
    expect(decode(frame, { maxDepth: 4 })).toEqual({
      kind: 'unparseable',
      reason: 'frame nested deeper than 4 levels (maxDepth)',
      code: -32600,
    });
    expect(depthExceeds(JSON.parse(frame), 4)).toBe(true);
    expect(depthExceeds(JSON.parse(frame), 5)).toBe(false);
    expect(depthExceeds(7, 0)).toBe(false);
  });

  it('leaves a response unlimited by maxDepth, alone or in a batch (its caller asked for it), but not a request', () => {
    const deep = '['.repeat(100) + ']'.repeat(100);
    const result = decode(`{"jsonrpc":"2.0","id":"a","result":${deep}}`, { maxDepth: 64 });
    expect(result.kind === 'single' && result.message.kind).toBe('result');
    const error = decode(`{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"m","data":${deep}}}`, { maxDepth: 64 });
    expect(error.kind === 'single' && error.message.kind).toBe('error');
    const refused = { kind: 'unparseable', reason: 'frame nested deeper than 64 levels (maxDepth)', code: -32600 };
    expect(decode(`{"jsonrpc":"2.0","id":"a","method":"m","params":[${deep}]}`, { maxDepth: 64 })).toEqual(refused);
    // Answers a peer gathered into one batch: refused whole, every call in it waited for its timeout.
    const answers = decode(`[{"jsonrpc":"2.0","id":"a","result":${deep}},{"jsonrpc":"2.0","id":"b","result":1}]`, { maxDepth: 64 });
    expect(answers.kind === 'batch' && answers.messages.map((m) => m.kind)).toEqual(['result', 'result']);
    expect(
      decode(`[{"jsonrpc":"2.0","id":"a","result":1},{"jsonrpc":"2.0","id":"b","method":"m","params":${deep}}]`, { maxDepth: 64 }),
    ).toEqual(refused);
    // The batch's array is a level: a request at the limit on its own is one too deep inside a batch.
    const atLimit = `{"jsonrpc":"2.0","id":"a","method":"m","params":${'['.repeat(63) + ']'.repeat(63)}}`;
    expect(decode(atLimit, { maxDepth: 64 }).kind).toBe('single');
    expect(decode(`[${atLimit}]`, { maxDepth: 64 })).toEqual(refused);
    expect(decode(`[1,${'['.repeat(64) + ']'.repeat(64)}]`, { maxDepth: 64 })).toEqual(refused);
    expect(decode(`[1,${'['.repeat(63) + ']'.repeat(63)}]`, { maxDepth: 64 }).kind).toBe('batch');
  });

  it('walks 1,000,000 levels without recursion', () => {
    const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    expect(depthExceeds(deep, 64)).toBe(true);
    expect(depthExceeds(deep, 1_000_000)).toBe(false);
  });
});

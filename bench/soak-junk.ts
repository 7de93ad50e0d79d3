/**
 * Hostile frames for the soak: what a broken or malicious peer writes. Each
 * generator takes a counter and returns one text frame; `kind` names what it
 * is, for the summary. None of them carries the id of a real call (those are
 * nanoids; these are `junk-…` or not strings at all), so none may settle a call.
 */

export type JunkKind =
  'malformed-json' | 'wrong-id-type' | 'deep-nesting' | 'unknown-id' | 'binary-ish' | 'bad-batch' | 'unknown-method' | 'bad-cancel';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Characters 0–255 and a few lone surrogates, as a text frame (ws encodes it to UTF-8). */
function binaryish(n: number): string {
  let text = '';
  for (let i = 0; i < 64; i++) text += String.fromCharCode((n * 131 + i * 197) & 0xff);
  return text + '\ud800\udfff\udc00' + '\u0000'.repeat(n % 8);
}

const CLIENT_JUNK: Array<[JunkKind, (n: number) => string]> = [
  ['malformed-json', (n) => `{"jsonrpc":"2.0","id":"junk-${n}","method":"echo","params":{`],
  ['malformed-json', () => 'not json at all'],
  ['malformed-json', () => ''],
  ['wrong-id-type', (n) => `{"jsonrpc":"2.0","id":{"n":${n}},"method":"echo","params":{}}`],
  ['wrong-id-type', () => '{"jsonrpc":"2.0","id":[1,2],"method":"echo","params":[]}'],
  ['wrong-id-type', () => '{"jsonrpc":"2.0","id":true,"result":1}'],
  ['wrong-id-type', (n) => `{"jsonrpc":"2.0","id":${n + 0.5},"method":"echo","params":{}}`],
  ['deep-nesting', () => nested(10_000)],
  ['deep-nesting', () => `{"jsonrpc":"2.0","id":"junk-deep","method":"echo","params":${nested(2_000)}}`],
  ['deep-nesting', () => nestedObject(5_000)],
  ['unknown-id', (n) => `{"jsonrpc":"2.0","id":"junk-${n}","result":{"seq":-1}}`],
  ['unknown-id', (n) => `{"jsonrpc":"2.0","id":${n},"error":{"code":-32000,"message":"junk"}}`],
  ['binary-ish', binaryish],
  ['bad-batch', () => '[]'],
  ['bad-batch', () => '[1,"two",null,{}]'],
  ['bad-batch', (n) => JSON.stringify(Array.from({ length: 150 }, (_, i) => ({ jsonrpc: '2.0', method: 'nothing', params: [n, i] })))],
  ['unknown-method', (n) => `{"jsonrpc":"2.0","id":"junk-${n}","method":"no.such.method","params":{}}`],
  ['bad-cancel', (n) => `{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"junk-${n}"}}`],
  ['bad-cancel', () => '{"jsonrpc":"2.0","method":"$/cancelRequest","params":"nonsense"}'],
];

const SERVER_JUNK: Array<(n: number) => string> = [
  (n) => `{"jsonrpc":"2.0","id":"srv-junk-${n}","result":{"seq":-1}}`,
  () => '{"jsonrpc":"2.0","id":{"x":1},"result":1}',
  () => 'garbage {{{',
  () => nested(10_000),
  binaryish,
  () => '[]',
  (n) => `{"jsonrpc":"2.0","id":"srv-junk-${n}","method":"no.such.client.method","params":{}}`,
  () => '{"jsonrpc":"2.0","method":"unsolicited","params":[1]}',
  () => '{"jsonrpc":"1.0","id":null,"error":{"code":"x"}}',
];

/** The `n`-th hostile frame a client writes to the server, and its kind. */
export function clientJunk(n: number): { kind: JunkKind; frame: string } {
  const [kind, make] = CLIENT_JUNK[n % CLIENT_JUNK.length]!;
  return { kind, frame: make(n) };
}

/** The `n`-th hostile frame the server writes to a client. */
export function serverJunk(n: number): string {
  return SERVER_JUNK[n % SERVER_JUNK.length]!(n);
}

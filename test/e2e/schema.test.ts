/** Params checked by a Standard Schema before the handler runs, with zod and with hand-written schemas, over real sockets. */
import { describe, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { z } from 'zod';
import { connect, method, serve, type Client, type Server, type StandardSchemaV1 } from '../../src/index.js';
import { closeAfterEach, settle } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/** A Standard Schema written by hand around `validate`. */
function handWritten<T>(validate: StandardSchemaV1<T>['~standard']['validate']): StandardSchemaV1<T> {
  return { '~standard': { version: 1, vendor: 'test', validate } };
}

/** A Standard Schema written by hand: a pair of numbers, checked synchronously or (async) in a later tick. */
function pairSchema(async: boolean): StandardSchemaV1<[number, number]> {
  const validate = (value: unknown): StandardSchemaV1.Result<[number, number]> => {
    if (Array.isArray(value) && value.length === 2 && value.every((n) => typeof n === 'number'))
      return { value: [value[0] as number, value[1] as number] };
    if (!Array.isArray(value)) return { issues: [{ message: 'expected an array of two numbers' }] };
    return {
      issues: value.flatMap((n, i) =>
        typeof n === 'number' ? [] : [{ message: `expected a number, got ${typeof n}`, path: [{ key: i }, Symbol('deep'), 'x'] }],
      ),
    };
  };
  return handWritten(async ? (value) => new Promise((resolve) => setImmediate(() => resolve(validate(value)))) : validate);
}

describe('methods given as { params: schema, handler }', () => {
  it('run the handler with the schema output (zod), and answer -32602 with the issues in data for params it refuses', async () => {
    let ran = 0;
    server = await serve({
      methods: {
        add: { params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => (ran++, a + b) },
        greet: { params: z.object({ name: z.string().trim() }), handler: ({ name }) => `hello ${name}` },
      },
    });
    client = connect(server.url);
    expect(await client.request('add', [1, 2])).toBe(3);
    expect(await client.request('greet', { name: '  Ada ' })).toBe('hello Ada');

    // Named params where the handler destructures an array: told from the schema, -32602 (not -32603 "not iterable").
    const named = await settle(client.request('add', { a: 1, b: 2 }));
    expect([named.error.name, named.error.code]).toEqual(['RemoteError', -32602]);
    expect(named.error.message).toMatch(/^invalid params for "add": /);
    expect(named.error.data).toEqual({ issues: [expect.objectContaining({ message: expect.any(String) })] });

    const wrong = await settle(client.request('add', [1, 'two']));
    expect(wrong.error.code).toBe(-32602);
    expect(wrong.error.data.issues).toEqual([{ message: expect.any(String), path: [1] }]);
    expect(ran).toBe(1);
  });

  it('take hand-written Standard Schemas, sync or async; issue paths are made JSON-safe (segments, symbols)', async () => {
    for (const async of [false, true]) {
      server = await serve({ methods: { add: { params: pairSchema(async), handler: ([a, b]) => a + b } } });
      client = connect(server.url);
      expect(await client.request('add', [2, 3])).toBe(5);
      const { error } = await settle(client.request('add', [2, 'x']));
      expect([error.code, error.message, error.data]).toEqual([
        -32602,
        'invalid params for "add": 1.deep.x: expected a number, got string',
        { issues: [{ message: 'expected a number, got string', path: [1, 'deep', 'x'] }] },
      ]);
      const none = await settle(client.request('add'));
      expect([none.error.code, none.error.data]).toEqual([-32602, { issues: [{ message: 'expected an array of two numbers' }] }]);
      await client.close();
      await server.close();
    }
  });

  it('answer -32603 when the schema itself throws, and send at most 100 issues', async () => {
    const throwing = handWritten(() => {
      throw new Error('schema bug');
    });
    server = await serve({
      methods: {
        broken: { params: throwing, handler: () => 1 },
        many: { params: z.array(z.number()), handler: (list) => list.length },
      },
    });
    client = connect(server.url);
    const broken = await settle(client.request('broken', []));
    expect([broken.error.code, broken.error.message]).toEqual([-32603, 'schema bug']);
    const many = await settle(
      client.request(
        'many',
        Array.from({ length: 500 }, () => 'x'),
      ),
    );
    expect(many.error.code).toBe(-32602);
    expect(many.error.data.issues).toHaveLength(100);
  });

  it('answer -32603 saying what is wrong when a schema returns no result object, or issues that are not a list of issues', async () => {
    const returning = (result: unknown) => handWritten(() => result as StandardSchemaV1.Result<unknown>);
    server = await serve({
      methods: {
        none: { params: returning(null), handler: () => 1 },
        text: { params: returning('ok'), handler: () => 1 },
        issues: { params: returning({ issues: 42 }), handler: () => 1 },
        words: { params: returning({ issues: 'expected a number' }), handler: () => 1 },
        odd: { params: returning({ issues: [null, 'bare', { message: 'm', path: 'not a list' }] }), handler: () => 1 },
      },
    });
    client = connect(server.url);
    const answers = await Promise.all(['none', 'text', 'issues', 'words', 'odd'].map((m) => settle(client!.request(m, []))));
    expect(answers.map(({ error }) => [error.code, error.message])).toEqual([
      [-32603, `the params schema of "none" returned null: a Standard Schema's validate returns { value } or { issues }`],
      [-32603, `the params schema of "text" returned string: a Standard Schema's validate returns { value } or { issues }`],
      [
        -32603,
        `the params schema of "issues" returned issues that are not iterable (number): a Standard Schema's validate returns { value } or { issues }`,
      ],
      [
        -32603,
        `the params schema of "words" returned issues that are a string, not a list of issues: a Standard Schema's validate returns { value } or { issues }`,
      ],
      [-32602, 'invalid params for "odd": null'],
    ]);
    expect(answers[4]!.error.data).toEqual({ issues: [{ message: 'null' }, { message: 'bare' }, { message: 'm' }] });
  });

  it('answer -32602 for issues whose message or path segment has no primitive value (an object without a prototype)', async () => {
    const bare = Object.create(null) as object;
    const schema = handWritten(() => ({ issues: [bare, { message: bare, path: [bare, { key: bare }, 'x'] }] }) as never);
    server = await serve({ methods: { add: { params: schema, handler: () => 1 } } });
    client = connect(server.url);
    const { error } = await settle(client.request('add', []));
    expect([error.code, error.message, error.data]).toEqual([
      -32602,
      'invalid params for "add": undefined',
      {
        // An issue object without a message, a path segment object without a key: read as undefined.
        issues: [{ message: 'undefined' }, { message: '[object Object]', path: ['undefined', '[object Object]', 'x'] }],
      },
    ]);
  });

  it('wait for a result that is a promise of another realm or a thenable: the handler never runs with params the schema refused', async () => {
    const refuse = { issues: [{ message: 'refused' }] };
    const accept = { value: ['checked'] };
    /** A schema whose validate answers `result` through a promise not of this realm's Promise. */
    const schema = (result: object, via: 'realm' | 'thenable'): StandardSchemaV1 =>
      handWritten(
        () =>
          (via === 'realm'
            ? runInNewContext('Promise.resolve(result)', { result })
            : { then: (resolve: (value: unknown) => void) => setImmediate(() => resolve(result)) }) as StandardSchemaV1.Result<unknown>,
      );
    for (const engine of ['light', 'xstate'] as const) {
      const ran: unknown[] = [];
      const handler = (params: unknown) => (ran.push(params), params);
      server = await serve({
        port: 0,
        host: '127.0.0.1',
        engine,
        methods: {
          realmRefused: { params: schema(refuse, 'realm'), handler },
          thenableRefused: { params: schema(refuse, 'thenable'), handler },
          realmAccepted: { params: schema(accept, 'realm'), handler },
          thenableAccepted: { params: schema(accept, 'thenable'), handler },
        },
      });
      client = connect(server.url);
      for (const name of ['realmRefused', 'thenableRefused']) {
        const { error } = await settle(client.request(name, ['raw']));
        expect([error?.code, error?.message, error?.data]).toEqual([
          -32602,
          `invalid params for "${name}": refused`,
          { issues: [{ message: 'refused' }] },
        ]);
      }
      expect(await client.request('realmAccepted', ['raw'])).toEqual(['checked']);
      expect(await client.request('thenableAccepted', ['raw'])).toEqual(['checked']);
      expect(ran).toEqual([['checked'], ['checked']]);
      await client.close();
      await server.close();
    }
  });

  it('wait for a thenable whose then getter gives a function only when first read: its refusal stands (then read once)', async () => {
    for (const engine of ['light', 'xstate'] as const) {
      const ran: unknown[] = [];
      let reads = 0;
      // Read a second time, the result would look like a plain one with a value and no issues.
      const schema = handWritten(
        () =>
          Object.defineProperty({ value: ['unchecked'] }, 'then', {
            get: () => (++reads === 1 ? (resolve: (value: unknown) => void) => resolve({ issues: [{ message: 'refused' }] }) : undefined),
          }) as StandardSchemaV1.Result<unknown>,
      );
      server = await serve({
        port: 0,
        host: '127.0.0.1',
        engine,
        methods: { flip: { params: schema, handler: (p: unknown) => (ran.push(p), p) } },
      });
      client = connect(server.url);
      const { error } = await settle(client.request('flip', ['raw']));
      expect([error?.code, error?.message, ran, reads]).toEqual([-32602, 'invalid params for "flip": refused', [], 1]);
      await client.close();
      await server.close();
    }
  });

  it('send issues that echo the params cut short: a long key in the path of each of 100 issues, a long message', async () => {
    server = await serve({
      methods: {
        lists: { params: z.record(z.string(), z.array(z.number())), handler: () => 1 },
        echo: { params: handWritten((value) => ({ issues: [{ message: `not this: ${JSON.stringify(value)}` }] })), handler: () => 1 },
      },
    });
    client = connect(server.url);
    const key = 'k'.repeat(100_000);
    const lists = await settle(client.request('lists', { [key]: Array.from({ length: 100 }, () => 'x') }));
    expect(lists.error.code).toBe(-32602);
    const issues = lists.error.data.issues as Array<{ message: string; path: [string, number] }>;
    // 100 issues of the 100,000-character key made a 10 MB answer to 100 KB of params.
    expect(JSON.stringify(issues).length).toBeLessThan(20_000);
    expect(issues[0]!.path).toEqual([`${'k'.repeat(99)}…`, 0]);
    expect(issues.length).toBeGreaterThan(1);
    const echo = await settle(client.request('echo', ['y'.repeat(50_000)]));
    expect(echo.error.data.issues[0].message).toBe(`not this: ["${'y'.repeat(987)}…`);
  });

  it('read at most 100 issues of a schema that reports them lazily, without end', async () => {
    // Typed as an array by the spec; a lazy iterable is what a careless schema could hand over.
    const endless = handWritten(
      () =>
        ({
          issues: (function* () {
            for (let i = 0; ; i++) yield { message: `issue ${i}` };
          })(),
        }) as unknown as StandardSchemaV1.Result<unknown>,
    );
    server = await serve({ port: 0, host: '127.0.0.1', methods: { endless: { params: endless, handler: () => 1 } } });
    client = connect(server.url);
    const { error } = await settle(client.request('endless', []));
    expect([error.code, error.message, error.data.issues.length]).toEqual([-32602, 'invalid params for "endless": issue 0', 100]);
  });

  it('check params after the middleware, which sees them unchecked; method() types a method declared apart', async () => {
    const seen: unknown[] = [];
    const add = method({ params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => a + b });
    const methods = { add };
    server = await serve({ use: [(ctx, next) => (seen.push(ctx.params), next())], methods });
    const typed = connect<typeof methods>(server.url);
    client = typed as Client;
    const sum: number = await typed.request('add', [4, 5]);
    expect(sum).toBe(9);
    expect((await settle(typed.request('add', ['x', 1] as never))).error.code).toBe(-32602);
    expect(seen).toEqual([
      [4, 5],
      ['x', 1],
    ]);
  });
});

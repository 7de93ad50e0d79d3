/**
 * The demo: an embedded echo server on a free port, and a client that replays
 * the classic scenario of request-response over an asynchronous channel:
 * 20 concurrent requests carrying random integers, answered after random
 * delays (so out of order), each checked against what it sent; one call that
 * times out; and unsolicited frames reported as unmatched. Every call's
 * lifecycle is printed as it moves, from the actors' inspection events.
 */
import type { InspectionEvent } from 'xstate';
import { connect } from '../client.js';
import { TimeoutError } from '../errors.js';
import type { Peer } from '../core/peer.js';
import { serve } from '../server.js';
import type { Engine, UnmatchedEvent, UnmatchedReason } from '../types.js';

export interface DemoOptions {
  /** Number of concurrent echo calls. Default: 20. */
  calls?: number;
  /** Largest random server delay, in ms. Default: 200. */
  maxDelay?: number;
  /** Where the demo prints. Default: process.stdout. */
  write?: (line: string) => void;
  /** Which interpreter runs each call (see `ClientOptions.engine`). Default: 'light'. */
  engine?: Engine;
}

export interface DemoSummary {
  calls: number;
  matched: number;
  /** Calls that completed at a different position than they were made. */
  outOfOrder: number;
  timedOut: number;
  unmatched: Record<UnmatchedReason, number>;
  ok: boolean;
}

interface DemoApi {
  echo(params: { n: number }): { n: number };
  slow(params: { n: number }): { n: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Width of the label column: `call 21 slow({"n":-1})` and echo calls with six-digit numbers fit. */
const LABEL_WIDTH = 30;

function stateName(value: unknown): string {
  return typeof value === 'string'
    ? value
    : Object.values(value as Record<string, unknown>)
        .map(stateName)
        .join('.');
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const count = options.calls ?? 20;
  const maxDelay = options.maxDelay ?? 200;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  const stamp = () => `${String(Date.now() - started).padStart(5)} ms`;

  let serverSide: Peer | undefined;
  /** What the server answered, so it can answer one call a second time. */
  const answered: Array<{ id: string | number; result: unknown }> = [];
  const server = await serve<DemoApi>({
    engine: options.engine,
    methods: {
      echo: async (params, ctx) => {
        await sleep(Math.floor(Math.random() * maxDelay));
        answered.push({ id: ctx.id!, result: params });
        return params;
      },
      // Answers long after the caller's timeout. The caller's deadline cancels it here
      // ($/cancelRequest); this handler answers anyway, as a server without
      // cancellation support would, so the answer arrives late.
      slow: async (params, ctx) => {
        await sleep(maxDelay * 2);
        if (ctx.signal.aborted) {
          write(`${stamp()}  server: "slow" was cancelled by the caller's deadline; answering anyway`);
          serverSide?.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: ctx.id, result: params }));
        }
        return params;
      },
    },
  });
  server.on('connection', (peer) => (serverSide = peer));
  write(`callstate demo: echo server listening on ${server.url}`);

  // Label each actor as it appears, by the machine it runs (`snapshot.machine.id`, as
  // inspectors tell actors apart), and print every state a call or the connection enters.
  const labels = new Map<unknown, string | null>();
  const last = new Map<unknown, string>();
  let callCount = 0;
  const inspect = (event: InspectionEvent) => {
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as unknown as {
      value: unknown;
      machine?: { id: string };
      context: { method?: string; params?: unknown };
    };
    let label = labels.get(event.actorRef);
    if (label === undefined) {
      label = labelOf(snapshot.machine?.id, snapshot.context);
      labels.set(event.actorRef, label);
    }
    // Actors of other logic (a connection's socket, say) are not part of the story.
    if (label === null) return;
    const state = stateName(snapshot.value);
    if (last.get(event.actorRef) === state) return;
    last.set(event.actorRef, state);
    write(`${stamp()}  ${label.padEnd(LABEL_WIDTH)} ${state}`);
  };
  const labelOf = (machine: string | undefined, context: { method?: string; params?: unknown }): string | null => {
    if (machine === 'call') return `call ${String(++callCount).padStart(2)} ${context.method}(${JSON.stringify(context.params) ?? ''})`;
    if (machine === 'connection') return 'connection';
    return null;
  };

  // Echo calls get ample time; only the slow call has a deadline shorter than the server's delay.
  const client = connect<DemoApi>(server.url, { timeout: Math.max(2_000, maxDelay * 5), inspect, engine: options.engine });
  try {
    return await scenario();
  } finally {
    await client.close();
    await server.close();
  }

  async function scenario(): Promise<DemoSummary> {
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => {
      unmatched.push(event);
      write(`${stamp()}  unmatched (${event.reason}): ${event.detail}`);
    });

    // 20 concurrent requests, made before the socket is even open: they wait in `queued`.
    const sent = Array.from({ length: count }, () => Math.floor(Math.random() * 1_000_000));
    const finished: number[] = [];
    const echoes = sent.map((n, i) =>
      client.request('echo', { n }).then((reply) => {
        finished.push(i);
        return reply;
      }),
    );

    await client.ready;
    // One call with a timeout shorter than the server's delay, made once the socket is open: its
    // deadline runs from creation, and made earlier it could expire before it was ever sent (on a
    // slow start), leaving the server nothing to answer late.
    const slow = client.request('slow', { n: -1 }, { timeout: maxDelay }).then(
      () => 'resolved',
      (error: unknown) => (error instanceof TimeoutError ? `timed out: ${error.message}` : `failed: ${String(error)}`),
    );
    const replies = await Promise.all(echoes);
    const matched = replies.filter((reply, i) => reply.n === sent[i]).length;
    const outOfOrder = finished.filter((callIndex, position) => callIndex !== position).length;

    // Unsolicited frames from the server: an unknown id, a duplicate of an answered call, and garbage.
    serverSide!.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'nobody-asked', result: 42 }));
    serverSide!.sendRaw(JSON.stringify({ jsonrpc: '2.0', ...answered[0] }));
    serverSide!.sendRaw('{ this is not json');

    const slowOutcome = await slow;
    write(`${stamp()}  slow call ${slowOutcome}`);
    // Wait (bounded, generously: a loaded machine is slow to answer) for the slow call's late answer
    // and the unsolicited frames to be reported.
    const waitUntil = Date.now() + Math.max(3_000, maxDelay * 10);
    while (unmatched.length < 4 && Date.now() < waitUntil) await sleep(Math.max(1, maxDelay / 10));

    await client.close();

    const byReason: Record<UnmatchedReason, number> = { unknown: 0, late: 0, duplicate: 0, malformed: 0 };
    for (const event of unmatched) byReason[event.reason]++;
    const timedOut = slowOutcome.startsWith('timed out') ? 1 : 0;
    const ok = matched === count && timedOut === 1 && Object.values(byReason).every((n) => n === 1);

    write('');
    write('summary');
    write(`  echo calls           ${count}, each answered with what it sent: ${matched}/${count}`);
    write(`  out of order         ${outOfOrder} of ${count} completed at a different position than they were made`);
    write(`  timed out            ${timedOut} (TimeoutError), its late answer reported, not delivered`);
    write(
      `  unmatched reported   unknown ${byReason.unknown}, late ${byReason.late}, duplicate ${byReason.duplicate}, malformed ${byReason.malformed}`,
    );
    write(`  connection           ${client.state}, pending calls left: ${client.pendingCalls}`);
    write(ok ? 'demo passed' : 'demo FAILED: see above');
    return { calls: count, matched, outOfOrder, timedOut, unmatched: byReason, ok };
  }
}

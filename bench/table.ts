/** The report as tables: plain text for the terminal, Markdown for docs/benchmarks.md. */
import { BASELINE, HTTP_BASELINE, KB, type ClosedLoopSection, type ColdSection, type RateSection, type Report } from './report.js';
import type { Spread } from './stats.js';

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
}

const thousands = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function num(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const abs = Math.abs(n);
  if (abs >= 100) return thousands.format(n);
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function rate(n: number): string {
  return n >= 1_000 ? `${(n / 1_000).toFixed(1)}k` : n.toFixed(0);
}

function ratio(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(2);
}

/** A target's value: one decimal more than `num` gives below 10, so that one just past its limit does not read as on it ('0.946 >= 0.95 FAIL', not '0.95'). */
function targetValue(n: number): string {
  if (Number.isInteger(n)) return thousands.format(n);
  return Number.isFinite(n) && Math.abs(n) < 10 ? n.toFixed(3) : num(n);
}

function withSpread(s: Spread, format: (n: number) => string): string {
  return s.n > 1 ? `${format(s.median)} (${format(s.min)}–${format(s.max)})` : format(s.median);
}

/** One table per level of a closed-loop section; `×base` columns are per-rep ratios to `base`. */
export function closedLoopTables(
  t: ClosedLoopSection | undefined,
  reps: number,
  heading: string,
  base: { short: string; long: string },
): Table[] {
  if (!t) return [];
  const x = `×${base.short}`;
  return t.levels.map((level) => ({
    title:
      `${heading}, ${thousands.format(level)} in flight` +
      (reps > 1 ? ` (median (min–max) of ${reps} interleaved reps; ${x} = per-rep ratio to ${base.long})` : ' (one rep)'),
    header: ['system', 'calls/s', x, 'p50 µs', x, 'p99 µs', x, 'client CPU µs/call', x, 'server CPU µs/call'],
    rows: Object.entries(t.summary).flatMap(([system, levels]) => {
      const s = levels[level];
      if (!s) return [];
      const r = (metric: keyof NonNullable<typeof s.ratio>) => (s.ratio ? withSpread(s.ratio[metric], ratio) : 'n/a');
      const errors = s.errors > 0 ? ` (${s.errors} errors)` : '';
      return [
        [
          system + errors,
          withSpread(s.callsPerSec, rate),
          r('callsPerSec'),
          withSpread(s.p50Us, num),
          r('p50Us'),
          withSpread(s.p99Us, num),
          r('p99Us'),
          withSpread(s.clientCpuUsPerCall, num),
          r('clientCpuUsPerCall'),
          withSpread(s.serverCpuUsPerCall, num),
        ],
      ];
    }),
  }));
}

/** One table per rate of the open-loop section: latency from the scheduled send time, CPU per call and GC pauses. */
export function rateTables(t: RateSection | undefined, reps: number): Table[] {
  if (!t) return [];
  return t.rates.map((r) => ({
    title:
      `Open loop at ${thousands.format(r)} calls/s, latency from the scheduled send time` +
      (reps > 1 ? ` (median (min–max) of ${reps} interleaved reps; ×raw = per-rep ratio to raw ws)` : ' (one rep)'),
    header: [
      'system',
      'p50 µs',
      'p99 µs',
      '×raw',
      'p99.9 µs',
      '×raw',
      'client CPU µs/call',
      'server CPU µs/call',
      'client + server',
      '×raw',
      'GC pauses/s client',
      'server',
      'GC ms/s client',
      'server',
    ],
    rows: Object.entries(t.summary).flatMap(([system, rates]) => {
      const s = rates[r];
      if (!s) return [];
      const x = (metric: keyof NonNullable<typeof s.ratio>) => (s.ratio ? withSpread(s.ratio[metric], ratio) : 'n/a');
      const errors = s.errors > 0 ? ` (${s.errors} errors)` : '';
      return [
        [
          system + errors,
          withSpread(s.p50Us, num),
          withSpread(s.p99Us, num),
          x('p99Us'),
          withSpread(s.p999Us, num),
          x('p999Us'),
          withSpread(s.clientCpuUsPerCall, num),
          withSpread(s.serverCpuUsPerCall, num),
          withSpread(s.totalCpuUsPerCall, num),
          x('totalCpuUsPerCall'),
          withSpread(s.clientGcPerSec, num),
          withSpread(s.serverGcPerSec, num),
          withSpread(s.clientGcMsPerSec, num),
          withSpread(s.serverGcMsPerSec, num),
        ],
      ];
    }),
  }));
}

export function coldTables(t: ColdSection | undefined, reps: number): Table[] {
  if (!t) return [];
  return [
    {
      title:
        'Cold start in a fresh client process: import the client modules; then connect and get the first call answered' +
        (reps > 1 ? ` (median (min–max) of ${reps} interleaved reps)` : ' (one rep)'),
      header: ['system', 'import ms', 'first answered call ms (from before import)'],
      rows: Object.entries(t.summary).map(([system, s]) => [system, withSpread(s.importMs, num), withSpread(s.firstCallMs, num)]),
    },
  ];
}

function capacityTables(report: Report): Table[] {
  const tables: Table[] = [];
  if (report.memory) {
    const pending = Object.values(report.memory)[0]?.pending ?? 0;
    tables.push({
      title: `Memory: heap per pending call, ${thousands.format(pending)} calls pending, server never answers (KB = 1,000 bytes)`,
      header: ['system', 'KB per pending call', '×raw'],
      rows: Object.entries(report.memory).map(([system, m]) => [system, (m.bytesPerCall / KB).toFixed(2), ratio(m.ratioToRaw)]),
    });
  }
  if (report.connections) {
    const count = Object.values(report.connections)[0]?.connections ?? 0;
    tables.push({
      title: `Memory: the server's heap per connection, ${thousands.format(count)} clients connected, each after one call (KB = 1,000 bytes)`,
      header: ['system', 'server KB per connection', '×raw'],
      rows: Object.entries(report.connections).map(([system, c]) => [system, (c.bytesPerConnection / KB).toFixed(1), ratio(c.ratioToRaw)]),
    });
  }
  if (report.scale) {
    const sizes = Object.values(report.scale)[0]?.points.map((p) => thousands.format(p.pending)) ?? [];
    const span = sizes.length > 1 ? `${sizes.at(-1)}/${sizes[0]}` : 'ratio';
    tables.push({
      title: 'Scale: client CPU µs per call to issue, and to settle, with N calls pending on one connection',
      header: ['system', ...sizes.map((s) => `issue @${s}`), span, ...sizes.map((s) => `settle @${s}`), span],
      rows: Object.entries(report.scale).map(([system, s]) => [
        system,
        ...s.points.map((p) => num(p.issueUs)),
        ratio(s.issueRatio),
        ...s.points.map((p) => num(p.settleUs)),
        ratio(s.settleRatio),
      ]),
    });
  }
  if (report.storm) {
    const first = Object.values(report.storm)[0];
    const base = report.storm[BASELINE]?.firstSettleMs;
    // Reports before session 10 ran one storm, the cold one: they keep their own title and columns.
    const twice = first?.firstSettleMs !== undefined;
    tables.push({
      title: `Timeout storm: ${thousands.format(first?.calls ?? 0)} calls, ${first?.timeoutMs ?? 0} ms timeout, silent server${twice ? ' (twice on one connection: the first one cold)' : ''}`,
      header: [
        'system',
        'all rejected after, ms',
        '×raw',
        ...(twice ? ['first storm, ms', '×raw'] : []),
        'rejected',
        'heap left, KB',
        'timers left',
        'entries left',
      ],
      rows: Object.entries(report.storm).map(([system, s]) => [
        system,
        num(s.settleMs),
        ratio(s.ratioToRaw),
        ...(twice ? [num(s.firstSettleMs), ratio(base === undefined ? undefined : s.firstSettleMs / base)] : []),
        `${s.rejected}/${s.calls}`,
        (s.heapDeltaBytes / KB).toFixed(1),
        String(s.timersLeft),
        s.pendingLeft === null ? 'n/a' : String(s.pendingLeft),
      ]),
    });
  }
  if (report.bundle) {
    tables.push({
      title: 'Browser client size: esbuild --bundle --minify --format=esm --platform=browser, then gzip (KB = 1,000 bytes)',
      header: ['system', 'KB gzipped', 'KB minified', 'largest input'],
      rows: Object.entries(report.bundle).map(([system, b]) => [
        system,
        (b.gzipped / KB).toFixed(1),
        (b.minified / KB).toFixed(1),
        b.largest[0] ? `${b.largest[0][0]} (${(b.largest[0][1] / KB).toFixed(1)} KB)` : '',
      ]),
    });
  }
  return tables;
}

export function reportTables(report: Report): Table[] {
  const reps = report.meta.options.reps;
  const tables = [
    ...closedLoopTables(report.throughput, reps, 'Closed loop', { short: 'raw', long: 'raw ws' }),
    ...rateTables(report.rate, reps),
    ...coldTables(report.cold, reps),
    ...capacityTables(report),
    ...closedLoopTables(report.http, reps, 'JSON-RPC over HTTP POST (fetch, keep-alive), closed loop', {
      short: 'http',
      long: 'plain node:http + JSON.parse, fetch client',
    }),
  ];
  if (report.targets.length > 0) {
    tables.push({
      title: `Targets (issues 3 and 16: callstate; issue 6: callstate over NATS; issue 13: callstate over HTTP and the browser bundle), this run${report.meta.mode === 'quick' ? ' (quick mode: smoke sizes, not the real targets)' : ''}`,
      header: ['target', 'value', 'limit', 'result'],
      rows: report.targets.map((t) => [
        t.name,
        t.value === null ? 'n/a' : targetValue(t.value),
        t.limit,
        t.value === null ? 'not measured' : t.pass ? 'pass' : 'FAIL',
      ]),
    });
  }
  if (report.errors.length > 0) {
    tables.push({
      title: 'Errors',
      header: ['system', 'section', 'message'],
      rows: report.errors.map((e) => [e.system, e.section, e.message]),
    });
  }
  return tables;
}

export function renderText(tables: Table[]): string {
  return tables
    .map(({ title, header, rows }) => {
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
    })
    .join('\n\n');
}

export function renderMarkdown(tables: Table[]): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  return tables
    .map(({ title, header, rows }) =>
      [
        `**${title}**`,
        '',
        `| ${header.map(escape).join(' | ')} |`,
        `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
        ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
      ].join('\n'),
    )
    .join('\n\n');
}

/** Where and how the numbers were measured, for docs/benchmarks.md. */
export function provenance(report: Report): string {
  const { meta } = report;
  const reps = meta.mode === 'quick' ? 'quick mode (smoke sizes; not comparable with a full run)' : `${meta.options.reps} interleaved reps`;
  return [
    `Measured ${meta.date} on ${meta.cpu} (${meta.cores} cores, ${meta.platform}), Node ${meta.node}, ${reps}` +
      (meta.loadAverage ? `; load average ${meta.loadAverage.map((l) => l.toFixed(1)).join(' → ')} during the run.` : '.'),
    `Reproduce with \`${meta.command}\`, then \`npm run bench:readme\`. Ratios are to raw \`ws\` (${BASELINE}) at the same concurrency; in the HTTP section, to plain \`node:http\` + \`fetch\` (${HTTP_BASELINE}).`,
  ].join('\n');
}

/** How the README names each system in its comparison. */
const PEER_LABELS: Record<string, string> = {
  raw: 'raw `ws`',
  callstate: '**callstate**',
  'callstate-nats': '**callstate** over NATS',
  'nats.js': 'nats.js `request()`',
};
/** Each system's browser client in the bundle section, where its name differs. */
const BUNDLE_NAMES: Record<string, string> = { 'socket.io': 'socket.io-client' };

/**
 * The README's short comparison with the peers: medians of the run, one row per WebSocket and NATS system,
 * a column per section the run has (closed-loop calls/s, p99 and CPU at the highest fixed rate, heap per
 * pending call, the server's heap per connection, browser bundle).
 */
export function peersSummary(report: Report): string {
  const { meta, throughput, rate: open, memory, connections, bundle } = report;
  const levels = throughput?.levels ?? [];
  const fixed = open ? Math.max(...open.rates) : undefined;
  const columns: Array<{ title: string; cell: (system: string) => string | undefined }> = [
    ...levels.map((level) => ({
      title: `calls/s, ${thousands.format(level)} in flight`,
      cell: (system: string) => {
        const s = throughput?.summary[system]?.[level]?.callsPerSec.median;
        return s === undefined ? undefined : rate(s);
      },
    })),
    ...(fixed === undefined
      ? []
      : [
          { title: `p99 µs at ${thousands.format(fixed)} calls/s`, metric: 'p99Us' as const },
          { title: `client + server CPU µs/call at ${thousands.format(fixed)} calls/s`, metric: 'totalCpuUsPerCall' as const },
        ].map(({ title, metric }) => ({
          title,
          cell: (system: string) => {
            const s = open?.summary[system]?.[fixed]?.[metric].median;
            return s === undefined ? undefined : num(s);
          },
        }))),
    ...(memory
      ? [{ title: 'heap KB per pending call', cell: (system: string) => memory[system] && (memory[system].bytesPerCall / KB).toFixed(2) }]
      : []),
    ...(connections
      ? [
          {
            title: 'server heap KB per connection',
            cell: (system: string) => connections[system] && (connections[system].bytesPerConnection / KB).toFixed(1),
          },
        ]
      : []),
    ...(bundle
      ? [
          {
            title: 'browser bundle, KB gzipped',
            cell: (system: string) => {
              const size = bundle[BUNDLE_NAMES[system] ?? system];
              return size && (size.gzipped / KB).toFixed(1);
            },
          },
        ]
      : []),
  ];
  const reps = meta.mode === 'quick' ? 'quick mode, not comparable' : `medians of ${meta.options.reps} interleaved repetitions`;
  const line = `Measured ${meta.date.slice(0, 10)} (${meta.cores} cores, Node ${meta.node}, ${reps}; \`npm run bench\`, then \`npm run bench:readme\`).`;
  const table: Table = {
    title: '',
    header: ['system', ...columns.map((c) => c.title)],
    rows: report.systems
      .filter((system) => throughput?.summary[system] !== undefined)
      .map((system) => [PEER_LABELS[system] ?? system, ...columns.map((c) => c.cell(system) ?? '')]),
  };
  return `${line}\n\n${renderMarkdown([table]).replace(/^\*\*\*\*\n\n/, '')}`;
}

/**
 * The benchmark harness in --quick mode (raw ws, callstate, birpc; and the
 * HTTP section's three systems): every section (closed loop, open loop at fixed rates, cold start,
 * memory, scale, storm, HTTP) reports, with positive figures and nothing left after the storm.
 * Structure and counts only: timings are never asserted.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEERS, replaceRegion, TABLES } from '../bench/region.js';
import type { Report } from '../bench/report.js';
import { peersSummary, provenance, renderMarkdown, reportTables } from '../bench/table.js';

const root = new URL('..', import.meta.url).pathname;
const systems = ['raw', 'callstate', 'birpc'];
const dir = mkdtempSync(join(tmpdir(), 'callstate-bench-'));
let report: Report;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/bundle/index.js'))) throw new Error('dist/ is missing: npm test builds before vitest runs');
  const out = join(dir, 'quick.json');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--only', systems.join(','), '--out', out], {
    cwd: root,
  });
  report = JSON.parse(readFileSync(out, 'utf8')) as Report;
}, 90_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('runs the chosen systems with no errors and records where it ran', () => {
    expect(report.errors).toEqual([]);
    expect(report.systems).toEqual(systems);
    expect(report.meta.mode).toBe('quick');
    expect(report.meta.cores).toBeGreaterThan(0);
    expect(report.meta.node).toBe(process.version);
  });

  it('reports calls/s, p50/p99 latency and CPU per call at 1, 64 and 1,024 in flight, as ratios to raw ws', () => {
    const throughput = report.throughput!;
    expect(throughput.levels).toEqual([1, 64, 1_024]);
    expect(throughput.runs).toHaveLength(systems.length * 3);
    for (const system of systems) {
      for (const level of throughput.levels) {
        const s = throughput.summary[system]![level]!;
        expect(s.errors).toBe(0);
        expect(s.calls).toBeGreaterThan(0);
        for (const metric of ['callsPerSec', 'p50Us', 'p99Us', 'clientCpuUsPerCall', 'serverCpuUsPerCall'] as const) {
          expect(s[metric].median).toBeGreaterThan(0);
          expect(s[metric].n).toBe(1);
          expect(s.ratio![metric].median).toBeGreaterThan(0);
        }
        expect(s.p99Us.median).toBeGreaterThanOrEqual(s.p50Us.median);
      }
      expect(throughput.summary.raw![64]!.ratio!.callsPerSec.median).toBe(1);
    }
  });

  it('reports p50/p99/p99.9 latency, CPU per call and GC pauses at 1k and 10k calls/s, as ratios to raw ws', () => {
    const rate = report.rate!;
    expect(rate.rates).toEqual([1_000, 10_000]);
    expect(rate.runs).toHaveLength(systems.length * 2);
    for (const system of systems) {
      for (const r of rate.rates) {
        const s = rate.summary[system]![r]!;
        expect(s.errors).toBe(0);
        expect(s.calls).toBe(Math.round((r * 150) / 1_000)); // the quick window: 150 ms at the rate
        for (const metric of ['p50Us', 'p99Us', 'p999Us', 'clientCpuUsPerCall', 'serverCpuUsPerCall', 'totalCpuUsPerCall'] as const) {
          expect(s[metric].median).toBeGreaterThan(0);
          expect(s[metric].n).toBe(1);
          expect(s.ratio![metric].median).toBeGreaterThan(0);
        }
        for (const metric of ['clientGcPerSec', 'serverGcPerSec', 'clientGcMsPerSec', 'serverGcMsPerSec'] as const)
          expect(s[metric].median).toBeGreaterThanOrEqual(0);
        expect(s.p99Us.median).toBeGreaterThanOrEqual(s.p50Us.median);
        expect(s.p999Us.median).toBeGreaterThanOrEqual(s.p99Us.median);
        expect(s.totalCpuUsPerCall.median).toBeCloseTo(s.clientCpuUsPerCall.median + s.serverCpuUsPerCall.median);
      }
    }
    expect(rate.summary.raw![1_000]!.ratio!.p99Us.median).toBe(1);
  });

  it('reports cold start: import time and time to the first answered call, per system', () => {
    const cold = report.cold!;
    expect(cold.runs.map((run) => run.system)).toEqual(systems);
    for (const system of systems) {
      const s = cold.summary[system]!;
      expect(s.importMs.median).toBeGreaterThan(0);
      expect(s.firstCallMs.median).toBeGreaterThan(s.importMs.median);
    }
  });

  it('reports HTTP calls/s and CPU per call at 1 and 64 in flight, as ratios to plain node:http + fetch', () => {
    const http = report.http!;
    expect(http.levels).toEqual([1, 64]);
    expect(http.runs).toHaveLength(3 * 2);
    for (const system of ['http', 'callstate-http', 'json-rpc-2.0-http']) {
      for (const level of http.levels) {
        const s = http.summary[system]![level]!;
        expect(s.errors).toBe(0);
        expect(s.calls).toBeGreaterThan(0);
        for (const metric of ['callsPerSec', 'clientCpuUsPerCall', 'serverCpuUsPerCall'] as const) {
          expect(s[metric].median).toBeGreaterThan(0);
          expect(s.ratio![metric].median).toBeGreaterThan(0);
        }
      }
    }
    expect(http.summary.http![64]!.ratio!.callsPerSec.median).toBe(1);
  });

  it('reports heap per pending call for every system', () => {
    for (const system of systems) {
      const memory = report.memory![system]!;
      expect(memory.pending).toBe(2_000);
      expect(memory.bytesPerCall).toBeGreaterThan(0);
    }
    expect(report.memory!.raw!.ratioToRaw).toBe(1);
  });

  it("reports the server's heap per connection for every system", () => {
    for (const system of systems) {
      const connections = report.connections![system]!;
      expect(connections.connections).toBe(50);
      // Quick mode's 50 connections are too few to measure (the heap before and after differ by GC's noise as much).
      expect(Number.isFinite(connections.bytesPerConnection)).toBe(true);
    }
    expect(report.connections!.raw!.ratioToRaw).toBe(1);
  });

  it('reports issue and settle cost per call at each pending size', () => {
    for (const system of systems) {
      const scale = report.scale![system]!;
      expect(scale.points.map((p) => p.pending)).toEqual([100, 500, 2_000]);
      for (const point of scale.points) {
        expect(point.issueUs).toBeGreaterThan(0);
        expect(point.settleUs).toBeGreaterThan(0);
      }
      expect(scale.issueRatio).toBeGreaterThan(0);
      expect(scale.settleRatio).toBeGreaterThan(0);
    }
  });

  it('rejects every call of both timeout storms (the first one cold) and leaves no timer and no entry behind', () => {
    for (const system of systems) {
      const storm = report.storm![system]!;
      expect(storm).toMatchObject({ calls: 500, timeoutMs: 50, firstRejected: 500, rejected: 500, resolved: 0, timersLeft: 0 });
      expect(storm.settleMs).toBeGreaterThan(0);
      expect(storm.firstSettleMs).toBeGreaterThan(0);
    }
    expect(report.storm!.raw!.pendingLeft).toBe(0);
    expect(report.storm!.callstate!.pendingLeft).toBe(0);
    expect(report.storm!.birpc!.pendingLeft).toBeNull(); // birpc keeps its pending calls private
  });

  it('measures the gzipped browser bundle of callstate beside the four peers’ browser clients', () => {
    expect(Object.keys(report.bundle!)).toEqual(['callstate', 'socket.io-client', 'rpc-websockets', 'json-rpc-2.0', 'birpc']);
    for (const { minified, gzipped, largest } of Object.values(report.bundle!)) {
      expect(gzipped).toBeGreaterThan(0);
      expect(gzipped).toBeLessThan(minified);
      expect(largest.length).toBeGreaterThan(0);
    }
    // Resolved through the browser export condition: the Node transport is not in it.
    expect(report.bundle!.callstate!.largest.map(([path]) => path)).not.toContain('ws/lib/websocket.js');
  });

  it('evaluates every issue 3, 13 and 16 target for callstate', () => {
    expect(report.targets.map((t) => t.name)).toEqual([
      'calls/s at 64 in flight, ratio to raw ws',
      'calls/s at 64 in flight over every peer (closest: birpc; per-rep ratio, median)',
      'calls/s at 1024 in flight, ratio to raw ws',
      'calls/s at 1024 in flight over every peer (closest: birpc; per-rep ratio, median)',
      'calls/s at 1 in flight, ratio to raw ws',
      'at 1000 calls/s: p99 latency, ratio to raw ws',
      'at 1000 calls/s: client + server CPU per call, ratio to raw ws',
      'at 1000 calls/s: client + server CPU per call over every peer (closest: birpc; per-rep ratio, median)',
      'at 10000 calls/s: p99 latency, ratio to raw ws',
      'at 10000 calls/s: client + server CPU per call, ratio to raw ws',
      'at 10000 calls/s: client + server CPU per call over every peer (closest: birpc; per-rep ratio, median)',
      'heap per pending call, KB (2000 pending)',
      'issue cost per call, 2000/100 pending',
      'settle cost per call, 2000/100 pending',
      'timeout storm (the second, warm): time until all rejected, ratio to raw ws',
      'timeout storm: timers left',
      'timeout storm: pending entries left',
      'timeout storm: calls rejected',
      'first (cold) timeout storm: calls rejected',
      'over HTTP: calls/s at 64 in flight, ratio to plain node:http + fetch',
      'browser bundle of connect(), KB gzipped',
    ]);
    for (const target of report.targets) expect(target.value).not.toBeNull();
  });

  it('renders one Markdown table per section with a row per system', () => {
    const tables = reportTables(report);
    expect(tables.map((t) => t.title.split(/[:,(]/)[0]!.trim())).toEqual([
      'Closed loop',
      'Closed loop',
      'Closed loop',
      'Open loop at 1',
      'Open loop at 10',
      'Cold start in a fresh client process',
      'Memory',
      'Memory',
      'Scale',
      'Timeout storm',
      'Browser client size',
      'JSON-RPC over HTTP POST',
      'JSON-RPC over HTTP POST',
      'Targets',
    ]);
    for (const table of tables.slice(0, 10)) expect(table.rows.map((row) => row[0])).toEqual(systems);
    for (const table of tables.slice(11, 13))
      expect(table.rows.map((row) => row[0])).toEqual(['http', 'callstate-http', 'json-rpc-2.0-http']);
    expect(renderMarkdown(tables)).toContain('| raw |');
  });
  it('summarises the run for the README: a row per system, a column per closed-loop level, fixed-rate p99 and CPU, heap and bundle', () => {
    const lines = peersSummary(report).split('\n');
    expect(lines[0]).toMatch(/^Measured \d{4}-\d{2}-\d{2} \(/);
    expect(lines[2]).toBe(
      '| system | calls/s, 1 in flight | calls/s, 64 in flight | calls/s, 1,024 in flight | p99 µs at 10,000 calls/s | ' +
        'client + server CPU µs/call at 10,000 calls/s | heap KB per pending call | server heap KB per connection | browser bundle, KB gzipped |',
    );
    const rows = lines.slice(4).map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '')));
    expect(rows.map((row) => row[0])).toEqual(['raw `ws`', '**callstate**', 'birpc']);
    for (const row of rows) expect(row.slice(1, 7).every((cell) => Number.parseFloat(cell) > 0)).toBe(true);
    for (const row of rows) expect(Number.isFinite(Number.parseFloat(row[7]!))).toBe(true); // the server's heap per connection
    expect(Number(rows[1]![8])).toBeGreaterThan(0); // callstate's browser bundle
    expect(rows[0]![8]).toBe(''); // raw ws has no browser client
  });
});

describe('the benchmark regions of docs/benchmarks.md and the README', () => {
  it('replaces only what lies between the markers', () => {
    const { start, end } = TABLES;
    const readme = `# title\n\nbefore\n${start}\nold table\n${end}\nafter\n`;
    expect(replaceRegion(readme, 'new table\n')).toBe(`# title\n\nbefore\n${start}\nnew table\n${end}\nafter\n`);
  });

  it('hold what bench/results/latest.json says (npm run bench:readme after each full run)', () => {
    const latest = JSON.parse(readFileSync(join(root, 'bench/results/latest.json'), 'utf8')) as Report;
    const region = (page: string, { start, end }: typeof TABLES) =>
      page.slice(page.indexOf(start) + start.length, page.indexOf(end)).trim();
    expect(region(readFileSync(join(root, TABLES.page), 'utf8'), TABLES)).toBe(
      `${provenance(latest)}\n\n${renderMarkdown(reportTables(latest))}`,
    );
    expect(region(readFileSync(join(root, PEERS.page), 'utf8'), PEERS)).toBe(peersSummary(latest));
  });

  it('refuses a page without the markers, naming the page', () => {
    expect(() => replaceRegion('# title\n', 'x')).toThrow(`docs/benchmarks.md has no ${TABLES.start} … ${TABLES.end} region`);
    expect(() => replaceRegion('# title\n', 'x', PEERS)).toThrow(`README.md has no ${PEERS.start} … ${PEERS.end} region`);
  });
});

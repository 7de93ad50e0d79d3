import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { PageModel } from '../../src/tools/inspect/model.js';
import { bin, fixture, startCommand } from '../cli-helpers.js';

/** Starts `callstate inspect` and resolves with the process and the URL it prints. */
function startInspect(...args: string[]) {
  const started = startCommand(['inspect', ...args], /^callstate inspect: (http:\/\/\S+) \(Ctrl-C to stop\)$/m);
  const url = started.match.then((match) => match[1]!);
  url.catch(() => {}); // awaited by the tests that expect a URL; the others expect no such line
  return { ...started, url };
}

describe('callstate inspect (built package)', () => {
  it('serves the page on the port given (--port 0 honoured), runs demo traffic with --demo, and exits 0 on SIGTERM', async () => {
    const run = startInspect('--port', '0', '--host', '127.0.0.1', '--demo');
    try {
      const url = await run.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await page.text();
      expect(html).toContain('<title>callstate inspect</title>');
      // Self-contained: nothing is loaded from another origin.
      expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);

      // The demo traffic runs on its own: wait (bounded) until calls have finished.
      let model: PageModel | undefined;
      for (let i = 0; i < 200; i++) {
        model = (await (await fetch(new URL('/model.json', url))).json()) as PageModel;
        if ((model.counts.client.resolved ?? 0) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(model!.connections).toEqual({ client: 'open', server: 'open' });
      expect(model!.counts.client.resolved ?? 0).toBeGreaterThan(0);
      // Recent calls of both sides: a client's call starts queued or sent, a server's incoming call handling.
      const latest = model!.recent.find((call) => call.side === 'client');
      expect(['queued', 'sent']).toContain(latest!.path[0]);
      expect(latest!.path.at(-1)).toBe(latest!.state);
      for (const call of model!.recent.filter((c) => c.side === 'server')) expect(call.path[0]).toBe('handling');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.output().stderr).toBe('');
  });

  it('exits 4 with the reason when the port is taken, leaving nothing running', async () => {
    const first = startInspect('--port=0');
    try {
      const port = new URL(await first.url).port;
      const second = spawnSync(process.execPath, [bin, 'inspect', '--port', port], { encoding: 'utf8', timeout: 30_000 });
      expect(second.status).toBe(4);
      expect(second.stderr).toBe(`callstate inspect: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
    } finally {
      first.child.kill('SIGINT');
    }
    expect(await first.exited).toBe(0);
  });

  it('lists inspect in the help, and refuses a port out of range with exit 2', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/^ {2}inspect \[--port N\] \[--host H\] +serve a live page/m);
    const bad = spawnSync(process.execPath, [bin, 'inspect', '--port', '70000'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('callstate inspect: --port takes an integer from 0 to 65535, got "70000" (see callstate inspect --help)\n');
  });

  it('refuses an empty --host with exit 2, as serve does (Node would bind every interface; the URL would be http://:7070/)', () => {
    for (const [command, ...rest] of [['inspect'], ['serve', fixture('cli-methods.mjs')]] as const) {
      for (const host of ['', ' ']) {
        const bad = spawnSync(process.execPath, [bin, command, ...rest, '--port', '0', '--host', host], {
          encoding: 'utf8',
          timeout: 15_000,
        });
        expect([bad.status, bad.stdout]).toEqual([2, '']);
        expect(bad.stderr).toBe(
          `callstate ${command}: --host takes an interface's address or name (0.0.0.0 or :: for every interface), got ${JSON.stringify(host)} (see callstate ${command} --help)\n`,
        );
      }
    }
  });

  it('prints an IPv6 host in brackets, and loopback when bound to every IPv6 interface', async () => {
    for (const [host, shown] of [
      ['::1', '[::1]'],
      ['::', '[::1]'],
      ['0.0.0.0', '127.0.0.1'],
    ]) {
      const run = startInspect('--port', '0', '--host', host!);
      try {
        const url = await run.url;
        expect(url).toMatch(new RegExp(`^http://${shown!.replace(/[[\]]/g, '\\$&')}:\\d+/$`));
        expect((await fetch(url)).status).toBe(200);
      } finally {
        run.child.kill('SIGINT');
      }
      expect(await run.exited).toBe(0);
    }
  });

  it('without --demo shows no traffic of its own: an empty page waiting for applications', async () => {
    const run = startInspect('--port', '0', '--json');
    try {
      const url = await new Promise<string>((resolve) => {
        const poll = setInterval(() => {
          const line = run.output().stdout.split('\n')[0];
          if (line?.startsWith('{')) {
            clearInterval(poll);
            resolve((JSON.parse(line) as { url: string }).url);
          }
        }, 10);
      });
      const model = (await (await fetch(new URL('/model.json', url))).json()) as PageModel;
      expect(model.connections).toEqual({ client: 'none', server: 'none' });
      expect(model.recent).toEqual([]);
    } finally {
      run.child.kill('SIGINT');
    }
    expect(await run.exited).toBe(0);
  });
});

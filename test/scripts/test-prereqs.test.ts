import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide, find } from '../../scripts/test-prereqs.js';

describe('test-prereqs: what npm test does about nats-server and chromium', () => {
  it('goes on when nothing is missing', () => {
    expect(decide({ missing: [], isRoot: false, hasAptGet: false })).toEqual({ kind: 'ready' });
  });

  it('installs only the missing packages with apt-get when root', () => {
    expect(decide({ missing: ['nats-server'], isRoot: true, hasAptGet: true })).toEqual({
      kind: 'install',
      commands: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', 'nats-server'],
      ],
    });
    expect(decide({ missing: ['nats-server', 'chromium'], isRoot: true, hasAptGet: true })).toMatchObject({
      commands: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', 'nats-server', 'chromium'],
      ],
    });
  });

  it('stops with the exact sudo command when apt-get is there but it is not root', () => {
    const decision = decide({ missing: ['nats-server', 'chromium'], isRoot: false, hasAptGet: true });
    expect(decision.kind).toBe('stop');
    expect(decision.kind === 'stop' && decision.message).toContain(
      '  sudo apt-get update && sudo apt-get install -y nats-server chromium\n',
    );
    expect(decision.kind === 'stop' && decision.message).toMatch(/^npm test needs nats-server and chromium, not found on PATH/);
  });

  it('stops naming what to install and where from when there is no apt-get, even as root', () => {
    const decision = decide({ missing: ['chromium'], isRoot: true, hasAptGet: false });
    expect(decision.kind).toBe('stop');
    const message = decision.kind === 'stop' ? decision.message : '';
    expect(message).toContain('npm test needs chromium');
    expect(message).toContain('chromium: https://www.chromium.org/');
    expect(message).not.toContain('nats-server');
  });

  describe('find', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'callstate-prereqs-'));
      await mkdir(join(dir, 'bin'));
      await mkdir(join(dir, 'sbin'));
      await writeFile(join(dir, 'bin', 'not-executable'), '');
      await writeFile(join(dir, 'sbin', 'tool'), '#!/bin/sh\n');
      await chmod(join(dir, 'sbin', 'tool'), 0o755);
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('finds an executable on PATH, skipping empty entries', () => {
      expect(find('tool', ['', join(dir, 'bin'), join(dir, 'sbin')].join(delimiter))).toBe(join(dir, 'sbin', 'tool'));
    });

    it('reports a program missing from PATH, or present but not executable', () => {
      expect(find('tool', join(dir, 'bin'))).toBeUndefined();
      expect(find('not-executable', join(dir, 'bin'))).toBeUndefined();
      expect(find('tool', undefined)).toBeUndefined();
    });

    it('falls back to the places the tests look besides PATH', () => {
      expect(find('tool', join(dir, 'bin'), [join(dir, 'sbin', 'tool')])).toBe(join(dir, 'sbin', 'tool'));
    });
  });
});

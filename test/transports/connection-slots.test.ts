/** The places of maxConnections: one per TCP connection, however many uses hold it. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from '../../src/transports/connection-slots.js';

describe('ConnectionSlots', () => {
  it('counts a connection once however many uses hold it, and frees its place when the last ends or it closes', () => {
    const slots = new ConnectionSlots(2);
    const [a, b, c] = [new PassThrough(), new PassThrough(), new PassThrough()];
    expect(slots.take(a)).toBe(true);
    expect(slots.take(a)).toBe(true); // a second POST on the same keep-alive connection
    expect(slots.take(b)).toBe(true);
    expect(slots.size).toBe(2);
    expect(slots.take(c)).toBe(false);
    slots.give(a);
    expect(slots.take(c)).toBe(false); // a still has a POST in progress
    slots.give(a);
    expect(slots.take(c)).toBe(true);
    b.destroy();
    return new Promise<void>((resolve) =>
      b.once('close', () => {
        expect(slots.size).toBe(1);
        expect(slots.take(a)).toBe(true);
        resolve();
      }),
    );
  });

  it('listens for the close of a connection once, however often it takes and gives a place', () => {
    const slots = new ConnectionSlots(1);
    const socket = new PassThrough();
    for (let i = 0; i < 50; i++) {
      expect(slots.take(socket)).toBe(true);
      slots.give(socket);
    }
    expect(socket.listenerCount('close')).toBe(1);
    expect(slots.size).toBe(0);
    expect(slots.refusal).toMatch(
      /\(maxConnections: 1; WebSocket connections, and HTTP connections with a POST in progress or a notification's handler running\)$/,
    );
  });

  it('keeps a kept place after its connection closes, until unkeep, whatever uses ended with it', async () => {
    const slots = new ConnectionSlots(1);
    const socket = new PassThrough();
    expect(slots.take(socket)).toBe(true); // a POST in progress
    expect(slots.keep(socket)).toBe(true); // a notification's handler running
    expect(slots.keep(socket)).toBe(true); // kept once
    slots.give(socket); // the POST answered
    expect(slots.take(new PassThrough())).toBe(false);
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    slots.give(socket); // a use that ended with the connection: nothing more to give
    expect(slots.size).toBe(1);
    slots.unkeep(socket);
    expect(slots.size).toBe(0);
    expect(slots.take(new PassThrough())).toBe(true);
  });
});

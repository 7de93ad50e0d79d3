/**
 * Connections the soak opens beside its client, written by hand over TCP
 * (test/raw-websocket.ts) because they do what no WebSocket library would:
 * a slow reader asks for large answers and stops reading, and an oversized
 * header claims a frame of a gigabyte. Each resolves with how it ended.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { closeCodeFrom, frameHeader, rawUpgrade, textFrame } from '../test/raw-websocket.js';

export type SlowReaderEnd = 'closed' | 'still open' | 'not connected';

/**
 * Opens a connection, sends `requests` calls to `big` at once and reads
 * nothing for `holdMs`: the server should drop it (1008) meanwhile. Then reads
 * what the kernel holds, to see the end of the stream: 'closed' if the server
 * closed the socket within `readMs`, 'still open' if it did not.
 * `beforeReading` runs when the hold ends (the server's buffer for it is at its largest, unless it was dropped).
 */
export async function slowReader(
  url: string,
  requests: number,
  holdMs: number,
  readMs: number,
  beforeReading = () => {},
): Promise<SlowReaderEnd> {
  const socket = await rawUpgrade(url).catch(() => undefined);
  if (!socket) return 'not connected';
  socket.pause();
  socket.on('error', () => {});
  const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
  const frames = Array.from({ length: requests }, (_, id) => textFrame(JSON.stringify({ jsonrpc: '2.0', id, method: 'big' }), true));
  socket.write(Buffer.concat(frames));
  await sleep(holdMs);
  beforeReading();
  socket.on('data', () => {});
  socket.resume();
  const end = await Promise.race([closed, sleep(readMs, 'still open' as const)]);
  socket.destroy();
  return end;
}

/** Opens a connection and sends a frame header claiming 1 GiB: resolves with the close code the server answers, or why none came. */
export async function oversizedHeader(url: string, waitMs: number): Promise<number | 'no close frame' | 'not connected'> {
  const socket = await rawUpgrade(url).catch(() => undefined);
  if (!socket) return 'not connected';
  socket.on('error', () => {});
  const code = closeCodeFrom(socket).catch(() => 'no close frame' as const);
  socket.write(frameHeader(2 ** 30, true));
  const end = await Promise.race([code, sleep(waitMs, 'no close frame' as const)]);
  socket.destroy();
  return end;
}

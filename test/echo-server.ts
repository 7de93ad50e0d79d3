/**
 * A raw `ws` server for the client's tests: it answers each request with its params at once (a method named
 * `hang` is never answered), records what it receives, and can stop and resume reading its socket (a slow
 * reader: the client's writes pile up in the socket's buffer).
 */
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

export interface EchoServer {
  url: string;
  /** How many times each request id arrived. */
  seen: Map<string, number>;
  /** Every frame received, in order: the method and the params' `tag`. */
  frames: string[];
  connected(): boolean;
  /** Stops reading the socket. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function echoServer(): Promise<EchoServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const seen = new Map<string, number>();
  const frames: string[] = [];
  let socket: WebSocket | undefined;
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { id?: string; method: string; params?: { tag?: string } };
      frames.push(`${frame.method} ${frame.params?.tag}`);
      if (frame.id === undefined) return;
      seen.set(frame.id, (seen.get(frame.id) ?? 0) + 1);
      if (frame.method !== 'hang') ws.send(JSON.stringify({ jsonrpc: '2.0', id: frame.id, result: frame.params }));
    });
  });
  const tcp = () => (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    seen,
    frames,
    connected: () => socket !== undefined,
    pause: () => tcp().pause(),
    resume: () => tcp().resume(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

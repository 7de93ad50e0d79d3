/**
 * The client's `handshakeTimeout` bounds the whole opening handshake, against
 * a raw TCP server that answers one byte at a time (each byte would reset an
 * idle timer such as `ws`'s own).
 */
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, ConnectionClosedError, type Client } from '../../src/index.js';
import { settle } from '../helpers.js';

let server: TcpServer | undefined;
let client: Client | undefined;
const sockets = new Set<Socket>();

afterEach(async () => {
  await client?.close();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  client = server = undefined;
});

/** A server that, once it has the request, writes `head` at once and then `trickle` one byte every 20 ms, forever. */
async function tricklingServer(head: string, trickle: string): Promise<string> {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(head);
      let i = 0;
      const timer = setInterval(() => socket.write(trickle[i++ % trickle.length]!), 20);
      socket.once('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return `ws://127.0.0.1:${port}`;
}

describe('handshakeTimeout', () => {
  it('rejects ready with the HTTP status when a refusing server trickles its body', async () => {
    const url = await tricklingServer('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nno ', 'x');
    client = connect(url, { handshakeTimeout: 300 });
    const { error } = await settle(client.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.code, error.closeCode]).toEqual(['ERR_CONNECTION_CLOSED', 1006]);
    expect(error.message).toMatch(
      new RegExp(`^could not connect to ${url} \\(code 1006\\): the server refused the connection with HTTP 401 Unauthorized: no x*$`),
    );
  });

  it('rejects ready when a server trickles its answer headers', async () => {
    const url = await tricklingServer('HTTP/1.1 101 Switching Protocols\r\n', 'X-Slow: yes\r\n');
    client = connect(url, { handshakeTimeout: 300 });
    const { error } = await settle(client.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe(`could not connect to ${url} (code 1006): Opening handshake has timed out`);
  });
});

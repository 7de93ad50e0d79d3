import { describe, expect, it } from 'vitest';
import { connect, serve, type Client, type Peer, type Server } from '../../src/index.js';
import { closeAfterEach, until } from '../helpers.js';

let server: Server | undefined;
const clients: Client[] = [];

closeAfterEach(() => [...clients.splice(0), server]);

describe('once on the client and the server', () => {
  it("server.once('connection') sees the first client only", async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: {} });
    const seen: Peer[] = [];
    server.once('connection', (peer) => seen.push(peer));
    clients.push(connect(server.url), connect(server.url));
    await Promise.all(clients.map((client) => client.ready));
    await until(() => server!.connections.size === 2, 'both connections');
    expect(seen).toHaveLength(1);
    expect(server.connections.has(seen[0]!)).toBe(true);
  });

  it("client.once('notification') sees the first notification only; its remover cancels it", async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: {} });
    const client = connect(server.url);
    clients.push(client);
    await client.ready;
    const first: unknown[] = [];
    const all: unknown[] = [];
    const cancelled: unknown[] = [];
    client.once('notification', ({ params }) => first.push(params));
    client.on('notification', ({ params }) => all.push(params));
    client.once('notification', ({ params }) => cancelled.push(params))();
    await until(() => server!.connections.size === 1, 'the connection');
    const peer = [...server.connections][0]!;
    peer.notify('tick', [1]);
    peer.notify('tick', [2]);
    await until(() => all.length === 2, 'both notifications');
    expect(first).toEqual([[1]]);
    expect(cancelled).toEqual([]);
  });
});

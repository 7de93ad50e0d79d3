import { WebSocketServer } from 'ws';
import { describe, it } from 'vitest';
import { connect } from '../../src/index.js';

describe('storm', () => {
  it('server accepts and closes at once, repeatedly', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    let n = 0;
    wss.on('connection', (s) => { n++; s.close(1000, 'bye'); });
    const c = connect(`ws://127.0.0.1:${(wss.address() as any).port}`, { reconnect: { initialDelay: 10, maxDelay: 200, jitter: 0 } });
    const delays: number[] = [];
    c.on('reconnecting', (e) => delays.push(e.delay));
    await new Promise((r) => setTimeout(r, 2000));
    console.log('connections', n, 'delays', delays.join(','));
    await c.close();
    for (const s of wss.clients) s.terminate();
    wss.close();
  });
  it('server accepts, answers one call, then closes after open', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    let n = 0;
    wss.on('connection', (s) => { n++; setTimeout(() => s.terminate(), 5); });
    const c = connect(`ws://127.0.0.1:${(wss.address() as any).port}`, { reconnect: { initialDelay: 10, maxDelay: 200, jitter: 0 } });
    const delays: number[] = [];
    c.on('reconnecting', (e) => delays.push(e.delay));
    await new Promise((r) => setTimeout(r, 2000));
    console.log('connections', n, 'delays', delays.join(','));
    await c.close();
    wss.close();
  });
});

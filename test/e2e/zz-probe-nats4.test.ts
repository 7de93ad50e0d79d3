import { describe, it } from 'vitest';
import { connect, serve, type Client, type NatsServer } from '../../src/index.js';
import { closeAfterEach, collectUncaught, orHang, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
const uncaught = collectUncaught();
let clients: Client[] = [];
let responders: NatsServer[] = [];
closeAfterEach(() => { const i = [...clients, ...responders]; clients = []; responders = []; return i; });

describe('probes4', () => {
  it('never-settling handler ignoring signal; client timeout', async () => {
    const s = await serve({ nats: nats.url, subject: 'n1', methods: { hang: () => new Promise(() => {}) } });
    responders.push(s);
    const c = connect(nats.url, { subject: 'n1', timeout: 200 }); clients.push(c);
    const r = await settle(c.request('hang'));
    console.log('err', r.error?.name);
    await until(() => s.handlingCalls === 0, 'released');
    console.log('handling', s.handlingCalls);
  });

  it('responder answering twice / other ids to client inbox', async () => {
    const c = connect(nats.url, { subject: 'n2', timeout: 2000 }); clients.push(c);
    const um: any[] = []; c.on('unmatched', (e) => um.push([e.reason, e.id]));
    const sub = nats.raw.subscribe('n2', { callback: (_e, msg) => {
      const { id } = JSON.parse(msg.string());
      msg.respond(JSON.stringify({ jsonrpc: '2.0', id, result: 1 }));
      msg.respond(JSON.stringify({ jsonrpc: '2.0', id, result: 2 }));
      msg.respond(JSON.stringify({ jsonrpc: '2.0', id: 'other', result: 3 }));
      msg.respond(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'x' } }));
      msg.respond('garbage');
      msg.respond(JSON.stringify({ jsonrpc: '2.0', id, method: 'x' }));
    } });
    await nats.raw.flush();
    console.log('value', await c.request('a'));
    await new Promise((r) => setTimeout(r, 200));
    console.log('unmatched', JSON.stringify(um), c.state, uncaught);
    sub.unsubscribe();
  });

  it('two raw callers same id concurrently', async () => {
    let release!: () => void; const gate = new Promise<void>((r) => (release = r));
    const s = await serve({ nats: nats.url, subject: 'n3', methods: { wait: () => gate.then(() => 'done') } });
    responders.push(s);
    const body = new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"wait"}');
    const a = nats.raw.request('n3', body, { timeout: 3000 });
    const b = nats.raw.request('n3', body, { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 200));
    release();
    console.log('a', (await a).string(), 'b', (await b).string());
  });

  it('close() of a NATS client while nats-server frozen and a call pending', async () => {
    const { startNatsServer } = await import('../nats-helpers.js');
    const own = await startNatsServer();
    const s = await serve({ nats: own.url, subject: 'f', methods: { hang: () => new Promise(() => {}) } });
    const c = connect(own.url, { subject: 'f', timeout: 60_000, closeTimeout: 300 });
    const call = settle(c.request('hang'));
    await until(() => s.handlingCalls === 1, 'running');
    own.process.kill('SIGSTOP');
    const t = Date.now();
    await orHang(c.close(), 'client close', 10_000);
    console.log('client closed in', Date.now() - t, (await call).error?.message);
    const t2 = Date.now();
    await orHang(s.close(), 'responder close', 20_000);
    console.log('responder closed in', Date.now() - t2);
    own.process.kill('SIGCONT');
    await own.stop();
  }, 30_000);
});

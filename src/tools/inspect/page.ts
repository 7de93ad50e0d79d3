/**
 * The inspection page: one self-contained HTML document (inline CSS and JS,
 * nothing fetched from elsewhere), so it works with no network. It reads the
 * event stream at `/events`, keeps the model with the same `applyEvent` as the
 * server (its source is inlined), and redraws at most every 100 ms, however many events arrive.
 */
import { diagramHtml } from './diagram.js';
import { applyEvent, type PageEvent, type PageModel } from './model.js';

// The page script runs in the browser; this project compiles without the DOM library.
declare const document: any;
declare const location: any;
declare const WebSocket: any;
type HTMLElement = any;

const CSS = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --line: #d8dce3; --muted: #6b7280;
  --queued: #8b5cf6; --sent: #0ea5e9; --awaiting: #f59e0b; --handling: #f59e0b;
  --resolved: #16a34a; --replied: #16a34a; --failed: #dc2626; --timedOut: #ea580c; --cancelled: #6b7280; }
@media (prefers-color-scheme: dark) { :root { --bg: #111418; --card: #1b2027; --line: #2c333d; --muted: #9aa3af; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); }
header { display: flex; gap: 24px; align-items: center; padding: 12px 20px; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
h1 { font-size: 18px; margin: 0 12px 0 0; }
h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
main { display: grid; grid-template-columns: 3fr 1fr; gap: 16px; padding: 16px 20px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; }
.conn { font-weight: 600; padding: 2px 8px; border-radius: 10px; border: 1px solid var(--line); }
.conn[data-state=open] { color: var(--resolved); } .conn[data-state=connecting], .conn[data-state=reconnecting] { color: var(--queued); }
.conn[data-state=closing], .conn[data-state=closed] { color: var(--failed); }
.lanes { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
.lane { border: 1px dashed var(--line); border-radius: 6px; padding: 8px; min-height: 220px; max-height: 420px; overflow: auto; }
.lane h3 { margin: 0 0 6px; font-size: 13px; display: flex; justify-content: space-between; }
.call { font: 12px ui-monospace, monospace; padding: 3px 6px; margin: 3px 0; border-radius: 4px; border-left: 4px solid var(--line); background: var(--bg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.call[data-state] { border-left-color: var(--awaiting); }
.call[data-state=queued] { border-left-color: var(--queued); } .call[data-state=sent] { border-left-color: var(--sent); }
.counts { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin-top: 12px; }
.count { border-radius: 6px; padding: 8px; border: 1px solid var(--line); }
.count b { display: block; font-size: 22px; }
.count[data-final=resolved] b, .count[data-final=replied] b { color: var(--resolved); }
.count[data-final=failed] b { color: var(--failed); } .count[data-final=timedOut] b { color: var(--timedOut); }
.count[data-final=cancelled] b { color: var(--cancelled); }
#server .counts { grid-template-columns: repeat(3, 1fr); }
#server .lane { min-height: 120px; }
table { width: 100%; border-collapse: collapse; font: 12px ui-monospace, monospace; }
td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); }
td.outcome[data-final=resolved] { color: var(--resolved); } td.outcome[data-final=failed] { color: var(--failed); }
td.outcome[data-final=timedOut] { color: var(--timedOut); } td.outcome[data-final=cancelled] { color: var(--cancelled); }
#timeline-section { grid-column: 1 / -1; }
#link[data-state=live] { color: var(--resolved); } #link { color: var(--failed); }
#dropped[data-n="0"] { display: none; } #dropped { color: var(--failed); font-weight: 600; }
#diagram-section, #detail-section { grid-column: 1 / -1; }
.machines { display: grid; grid-template-columns: 3fr 2fr; gap: 12px; }
.machine h3 { margin: 0 0 6px; font-size: 13px; }
.st-children { display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-start; }
.st { border: 1px solid var(--line); border-radius: 8px; padding: 4px 8px; background: var(--bg); font-size: 12px; }
.st[data-type=final] { border-width: 3px; border-style: double; }
.st[data-type=compound] { background: var(--card); }
.st-head { display: flex; gap: 8px; justify-content: space-between; }
.dn { font: 600 12px ui-monospace, monospace; color: var(--sent); }
.edges { margin: 2px 0 4px; padding-left: 14px; color: var(--muted); font-size: 11px; }
#timeline tr, .call { cursor: pointer; } #timeline tr[data-selected] { outline: 2px solid var(--sent); }
#detail { font: 12px ui-monospace, monospace; white-space: pre-wrap; margin: 0; }
#table-wrap { max-height: 480px; overflow: auto; }
`;

const BODY = `
<header>
  <h1>callstate inspect</h1>
  <span>client connection <span class="conn" id="conn-client" data-state="none">none</span></span>
  <span>server connection <span class="conn" id="conn-server" data-state="none">none</span></span>
  <span>open: <b id="live-client">0</b> client, <b id="live-server">0</b> server</span>
  <span>stream <span id="link" data-state="down">connecting…</span></span>
  <span id="dropped" data-n="0"></span>
</header>
<main>
  <section id="client">
    <h2>Client: calls in flight</h2>
    <div class="lanes">
      <div class="lane" data-lane="queued"><h3>queued <span class="n">0</span></h3><div class="cards"></div></div>
      <div class="lane" data-lane="sent"><h3>sent <span class="n">0</span></h3><div class="cards"></div></div>
      <div class="lane" data-lane="awaiting"><h3>awaiting <span class="n">0</span></h3><div class="cards"></div></div>
    </div>
    <div class="counts">
      <div class="count" data-final="resolved">resolved<b id="count-client-resolved">0</b></div>
      <div class="count" data-final="failed">failed<b id="count-client-failed">0</b></div>
      <div class="count" data-final="timedOut">timedOut<b id="count-client-timedOut">0</b></div>
      <div class="count" data-final="cancelled">cancelled<b id="count-client-cancelled">0</b></div>
    </div>
  </section>
  <section id="server">
    <h2>Server: handlers running</h2>
    <div class="lane" data-lane="handling"><h3>handling <span class="n">0</span></h3><div class="cards"></div></div>
    <div class="counts">
      <div class="count" data-final="replied">replied<b id="count-server-replied">0</b></div>
      <div class="count" data-final="failed">failed<b id="count-server-failed">0</b></div>
      <div class="count" data-final="cancelled">cancelled<b id="count-server-cancelled">0</b></div>
    </div>
  </section>
  <section id="diagram-section">
    <h2>Machines: calls in each state now (final states: ended there)</h2>
    <div class="machines">%DIAGRAM%</div>
  </section>
  <section id="timeline-section">
    <h2>Recent calls (newest first, last 500; click one for its events)</h2>
    <div id="table-wrap"><table><thead><tr><th>ended</th><th>method</th><th>id</th><th>states</th><th>ms</th><th>outcome</th><th>side</th></tr></thead>
    <tbody id="timeline"></tbody></table></div>
  </section>
  <section id="detail-section">
    <h2>Selected call</h2>
    <pre id="detail">click a call in the table or a lane</pre>
  </section>
</main>`;

/**
 * The page's own script. It gets `applyEvent` as a parameter, not through the
 * import, since only the function's source reaches the page.
 */
function pageScript(apply: (model: PageModel, event: PageEvent) => void): void {
  let model: any = null;
  let dirty = false;
  const $ = (selector: string) => document.querySelector(selector) as HTMLElement;
  const text = (value: unknown) => String(value).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

  let selected: string | null = null;
  /** HH:MM:SS.mmm, local time (toLocaleTimeString costs too much for 500 rows every 100 ms). */
  const clock = (ms: number) => {
    const d = new Date(ms);
    const two = (n: number) => String(n).padStart(2, '0');
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  };

  /** The call with this sessionId: in flight, or among the recent ones. */
  function findCall(sid: string): any {
    return model.inflight[sid] || model.recent.find((c: any) => c.sid === sid);
  }

  function renderDetail(): void {
    const call = selected === null ? undefined : findCall(selected);
    if (!call) return;
    const lines = call.path.map(
      (state: string, i: number) =>
        `+${String(call.times[i] - call.started).padStart(6)} ms  ${state.padEnd(10)} ${call.causes[i] ? `on ${call.causes[i]}` : ''}`,
    );
    const took = call.ended === undefined ? 'in flight' : `${call.ended - call.started} ms`;
    $('#detail').textContent = `${call.side} call ${call.method} id ${call.id} (${took})\n${lines.join('\n')}`;
  }

  function renderDiagram(calls: any[]): void {
    const now: Record<string, number> = {};
    for (const c of calls) now[`${c.side}:${c.state}`] = (now[`${c.side}:${c.state}`] || 0) + 1;
    for (const side of ['client', 'server'])
      for (const [state, n] of Object.entries(model.counts[side])) now[`${side}:${state}`] = n as number;
    // A compound state holds the sum of its children.
    const count = (el: HTMLElement): number => {
      const children = el.querySelectorAll(':scope > .st-children > .st') as HTMLElement[];
      let n = now[el.querySelector('.dn').dataset.count] || 0;
      for (const child of children) n += count(child);
      el.querySelector(':scope > .st-head > .dn').textContent = String(n);
      return n;
    };
    for (const top of document.querySelectorAll('.machine > .st-children > .st') as HTMLElement[]) count(top);
  }

  function render(): void {
    dirty = false;
    if (!model) return;
    $('#dropped').dataset.n = String(model.dropped);
    $('#dropped').textContent = `${model.dropped} dropped`;
    for (const side of ['client', 'server']) {
      const el = $(`#conn-${side}`);
      el.textContent = model.connections[side];
      el.dataset.state = model.connections[side];
      $(`#live-${side}`).textContent = String(Object.keys(model.live[side]).length);
      for (const [state, n] of Object.entries(model.counts[side])) {
        const count = document.getElementById(`count-${side}-${state}`);
        if (count) count.textContent = String(n);
      }
    }
    const calls = Object.values(model.inflight) as any[];
    for (const lane of document.querySelectorAll('[data-lane]') as HTMLElement[]) {
      const state: string = lane.dataset.lane;
      const side = state === 'handling' ? 'server' : 'client';
      const here = calls.filter((c) => c.side === side && c.state === state);
      lane.querySelector('.n').textContent = String(here.length);
      lane.querySelector('.cards').innerHTML = here
        .slice(0, 200)
        .map(
          (c) =>
            `<div class="call" data-state="${text(c.state)}" data-sid="${text(c.sid)}" title="${text(c.id)}">${text(c.method)} ${text(c.id.slice(0, 8))}</div>`,
        )
        .join('');
    }
    $('#timeline').innerHTML = model.recent
      .map((c: any) => {
        const ended = clock(c.ended);
        const mark = c.sid === selected ? ' data-selected' : '';
        return `<tr data-sid="${text(c.sid)}"${mark}><td>${ended}</td><td>${text(c.method)}</td><td>${text(c.id.slice(0, 8))}</td><td class="path">${text(c.path.join(' → '))}</td><td>${c.ended - c.started}</td><td class="outcome" data-final="${text(c.state)}">${text(c.state)}</td><td>${c.side}</td></tr>`;
      })
      .join('');
    renderDiagram(calls);
    renderDetail();
  }

  document.addEventListener('click', (event: any) => {
    const target = event.target.closest('[data-sid]');
    if (!target || !model) return;
    selected = target.dataset.sid;
    render();
  });

  function schedule(): void {
    if (dirty) return;
    dirty = true;
    setTimeout(render, 100);
  }

  function open(): void {
    const socket = new WebSocket(`ws://${location.host}/events`);
    socket.onopen = () => {
      $('#link').textContent = 'live';
      $('#link').dataset.state = 'live';
    };
    socket.onmessage = (message: { data: string }) => {
      const data = JSON.parse(message.data);
      if (data.model) model = data.model;
      else for (const event of data.events) apply(model, event);
      schedule();
    };
    socket.onclose = () => {
      $('#link').textContent = 'disconnected, retrying…';
      $('#link').dataset.state = 'down';
      setTimeout(open, 1000);
    };
  }
  open();
}

/** The whole page. */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>callstate inspect</title><style>${CSS}</style></head>
<body>${BODY.replace('%DIAGRAM%', diagramHtml())}
<script>
// Under tsx or vitest, esbuild's keepNames wraps functions in __name(fn, name); the build (tsc) does not.
var __name = (fn) => fn;
(${pageScript.toString()})(${applyEvent.toString()});
</script></body></html>`;
}

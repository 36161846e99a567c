/**
 * Dev only (never shipped): plays the extension host inside a plain page. Defines `acquireVsCodeApi`,
 * answers `dashboard/ready` with a snapshot of synthetic runs, then streams event batches the way the host
 * does (one `run/didAppendEvents` per ~50 ms). Also records CSP violations for smoke.mjs to assert on.
 * setState goes to sessionStorage, so a reload exercises the restore path.
 * Query: ?steps=N (size of the finished run), ?live=0 (no streaming), ?silent=1 (never answer `ready`:
 * the page shows only what it restored), ?lora=1 (a finished LoRA run too, focused).
 */
import { applyEvent, emptyRunView, type HostToWebview, type RunView, type WebviewToHost } from '../../protocol/webview';
import type { RunEvent } from '../../engine/protocol/events';
import { syntheticLoraRun, syntheticRun } from '../src/shared/test-fixtures';

interface DevWindow {
  __posted: WebviewToHost[];
  __csp: string[];
}
const w = window as unknown as Window & DevWindow;
const q = new URLSearchParams(location.search);
w.__posted = [];
w.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));

const send = (m: HostToWebview) => window.postMessage(m, '*');

function view(runId: string, label: string, events: RunEvent[]): RunView {
  const v = emptyRunView(runId, label, 'queued');
  for (const e of events) applyEvent(v, e);
  return v;
}

const bigSteps = Number(q.get('steps') ?? 3000);
// The finished run is an older one (biasChange events); the live one writes today's change events.
const done = view('sst2-lr1e-3', 'sst2 · lr 1e-3', [
  ...syntheticRun('sst2-lr1e-3', { steps: bigSteps, evalEvery: Math.max(1, Math.round(bigSteps / 10)), biasEvery: Math.max(1, Math.round(bigSteps / 30)), seed: 7, legacy: true }),
  { v: 1, type: 'finished', step: bigSteps, time: '2025-01-01T01:00:00Z', seconds: 3600 },
]);
const liveAll = syntheticRun('sst2-lr5e-4', { steps: 1200, totalSteps: 1200, evalEvery: 150, biasEvery: 50, seed: 3 });
let cursor = 400; // events of the live run already in the snapshot
let extra = 0; // paused/resumed events injected into the live stream (they shift stream indices)
const live = view('sst2-lr5e-4', 'sst2 · lr 5e-4', liveAll.slice(0, cursor));

globalThis.acquireVsCodeApi = (<S>() => ({
  postMessage(m: WebviewToHost) {
    w.__posted.push(m);
    if (m.kind === 'dashboard/ready' && q.get('silent') !== '1') {
      const lora = q.get('lora') === '1' ? [view('sst2-lora', 'sst2 · lora r8', syntheticLoraRun('sst2-lora'))] : [];
      send({ v: 1, kind: 'dashboard/didChangeState', timestamp: Date.now(), runs: [done, live, ...lora], selected: lora.length ? ['sst2-lora', 'sst2-lr1e-3'] : ['sst2-lr5e-4', 'sst2-lr1e-3'] });
      if (q.get('live') !== '0') stream();
    }
    if (m.kind === 'run/pause') send({ v: 1, kind: 'run/didAppendEvents', runId: m.runId, firstIndex: cursor + extra++, events: [{ v: 1, type: 'paused', step: 0, time: '' }] });
    if (m.kind === 'run/resume') send({ v: 1, kind: 'run/didAppendEvents', runId: m.runId, firstIndex: cursor + extra++, events: [{ v: 1, type: 'resumed', step: 0, time: '' }] });
  },
  getState: () => JSON.parse(sessionStorage.getItem('vscode-state') ?? 'null') ?? undefined,
  setState: (s: S) => sessionStorage.setItem('vscode-state', JSON.stringify(s)),
})) as typeof globalThis.acquireVsCodeApi;

function stream(): void {
  const timer = setInterval(() => {
    const paused = w.__posted.filter((m) => m.kind === 'run/pause').length > w.__posted.filter((m) => m.kind === 'run/resume').length;
    if (paused) return;
    const batch = liveAll.slice(cursor, cursor + 8);
    const firstIndex = cursor + extra;
    cursor += batch.length;
    if (!batch.length) return clearInterval(timer);
    send({ v: 1, kind: 'run/didAppendEvents', runId: 'sst2-lr5e-4', firstIndex, events: batch });
  }, 50);
}

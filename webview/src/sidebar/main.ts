/**
 * Sidebar webview view entry (bundled to dist/webview/sidebar.js): the active run at a glance. Same
 * handshake and messages as the dashboard (`dashboard/ready`, then snapshots and event batches), a much
 * smaller picture: name, status, a smoothed loss sparkline on a plain canvas, latest loss, progress, and
 * pause/resume/stop.
 */
import { runMethodLabel } from '../../../protocol/method';
import type { RunView, WebviewToHost } from '../../../protocol/webview';
import { formatValue } from '../shared/format';
import { h, iconButton, setText } from '../shared/dom';
import { compactSnapshot } from '../shared/persist';
import { RunStore, type Snapshot } from '../shared/store';
import { observeTheme, readTheme } from '../shared/theme';
import { throttle, vscodeApi } from '../shared/vscode-api';
import { smooth } from '../dashboard/smoothing';
import { sparklinePoints } from './sparkline';

/** Heavier than TensorBoard's 0.6 default: at ~200 px wide every step's noise would otherwise be a solid band. */
const SMOOTHING = 0.9;
const HEIGHT = 48;

interface Persisted {
  v: 1;
  snapshot: Snapshot;
}

const vscode = vscodeApi<Persisted>();
const post = (m: WebviewToHost) => vscode.postMessage(m);
const store = new RunStore();
let theme = readTheme();

const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
const name = h('span', { class: 'run-name', 'data-testid': 'sidebar-run' });
const badge = h('span', { class: 'badge', role: 'status', 'data-testid': 'status-badge' });
const canvas = h('canvas', { class: 'sparkline', role: 'img', 'aria-label': 'Loss', 'data-testid': 'sparkline' });
const loss = h('span', { 'data-testid': 'sidebar-loss' });
const steps = h('span', { class: 'muted' });
const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Training progress', 'data-testid': 'sidebar-progress' });
const pauseBtn = iconButton('debug-pause', 'Pause the run', 'pause-button');
const resumeBtn = iconButton('debug-continue', 'Resume the run', 'resume-button');
const stopBtn = iconButton('debug-stop', 'Stop the run', 'stop-button');
const empty = h('p', { class: 'muted', text: 'No run yet.' });

app.replaceChildren(
  empty,
  h(
    'div',
    { class: 'sidebar-run' },
    h('div', { class: 'row' }, name, badge),
    canvas,
    h('div', { class: 'row' }, loss, steps),
    progress,
    h('div', { class: 'row controls', role: 'toolbar', 'aria-label': 'Run controls' }, pauseBtn, resumeBtn, stopBtn),
  ),
);
const body = app.lastElementChild as HTMLElement;

for (const [btn, kind] of [[pauseBtn, 'run/pause'], [resumeBtn, 'run/resume'], [stopBtn, 'run/stop']] as const)
  btn.addEventListener('click', () => {
    const runId = active()?.runId;
    if (runId) post({ v: 1, kind, runId });
  });

/** The run to show: the newest one that is running or paused, else the dashboard's focused run. */
function active(): RunView | undefined {
  const live = store.snapshot.runs.filter((r) => r.status === 'running' || r.status === 'paused' || r.status === 'queued');
  return live[live.length - 1] ?? store.focused();
}

let cache = { key: '', smoothed: [] as number[] };
function smoothedLoss(run: RunView): number[] {
  const key = `${run.runId}|${store.generation(run.runId)}|${run.steps.loss.length}`;
  if (key !== cache.key) cache = { key, smoothed: smooth(run.steps.loss, SMOOTHING) };
  return cache.smoothed;
}

let frame = 0;
function changed(): void {
  persist();
  if (!frame) frame = requestAnimationFrame(render);
}

function render(): void {
  frame = 0;
  const run = active();
  empty.hidden = run !== undefined;
  body.hidden = run === undefined;
  if (!run) return;
  const status = run.status;
  setText(name, run.label);
  // The method rides in the tooltip: the view is narrow, and New Run's labels already name it.
  name.title = run.started ? `${run.runId}\n${runMethodLabel({ view: run }, 'long')}` : run.runId;
  setText(badge, status);
  badge.className = `badge status-${status}`;
  const values = smoothedLoss(run);
  const last = values[values.length - 1];
  setText(loss, `loss ${formatValue(last)}`);
  const step = run.end?.step ?? run.steps.step[run.steps.step.length - 1] ?? 0;
  const total = run.started?.totalSteps ?? 0;
  setText(steps, total ? `${step.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}` : `step ${step.toLocaleString('en-US')}`);
  progress.max = Math.max(1, total);
  progress.value = Math.min(step, progress.max);
  pauseBtn.disabled = status !== 'running';
  resumeBtn.disabled = status !== 'paused';
  stopBtn.disabled = !(status === 'running' || status === 'paused' || status === 'queued');
  canvas.setAttribute('aria-label', `Smoothed training loss, latest ${formatValue(last)}`);
  draw(values);
}

function draw(values: number[]): void {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 200;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(HEIGHT * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(HEIGHT * dpr);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, HEIGHT);
  const pts = sparklinePoints(values, { width, height: HEIGHT, pad: 2 });
  if (pts.length < 2) return;
  ctx.strokeStyle = theme.palette[0]!;
  ctx.lineWidth = theme.highContrast ? 2 : 1.25;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.stroke();
}

const persist = throttle(() => vscode.setState({ v: 1, snapshot: compactSnapshot(store.snapshot, 1000) }), 1000);
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (store.apply(e.data)) changed();
});
observeTheme(() => {
  theme = readTheme();
  render();
});
new ResizeObserver(() => changed()).observe(canvas);
window.addEventListener('error', (e) => post({ v: 1, kind: 'dashboard/log', level: 'error', message: String(e.message).slice(0, 4000) }));

const saved = vscode.getState();
if (saved?.v === 1 && saved.snapshot) store.replace(saved.snapshot);
render();
post({ v: 1, kind: 'dashboard/ready' });

/**
 * Playground webview entry (bundled to dist/webview/playground.js): pick a run, type a sentence (or a pair),
 * press Enter, and compare the trained model with its base model, class by class. Also starts batch mode
 * (the host picks the file). Same handshake as the dashboard: `playground/ready`, then the host's answers.
 * The inputs and the last result are kept with setState, so a hidden or reloaded panel comes back as it was.
 */
import type { HostToPlayground, OpenedRunView, PlaygroundRun, PlaygroundToHost, PredictionView } from '../../../protocol/playground';
import { h, setText } from '../shared/dom';
import { vscodeApi } from '../shared/vscode-api';
import { activeBaseText, formatLatency, formatScore, isPlaygroundMessage, Requests, resultRows, sameBaseRuns, shouldSubmit, showPairBox, summarize, taskOptionText } from './model';

interface LastResult {
  runId: string;
  trained: PredictionView;
  base: PredictionView;
  ms: { trained: number; base: number; total: number };
}

interface Persisted {
  v: 1;
  /** Read by the host's serializer to reopen the same run after a reload. */
  runId?: string;
  text: string;
  textPair: string;
  wantsPair: boolean;
  last?: LastResult;
}

const api = vscodeApi<Persisted>();
// The shared api is typed for the dashboard's messages; this page speaks the playground's.
const post = (m: PlaygroundToHost) => (api.postMessage as (m: unknown) => void)(m);
const saved = api.getState();
const state: Persisted = saved?.v === 1 ? saved : { v: 1, text: '', textPair: '', wantsPair: false };
const requests = new Requests();
let runs: PlaygroundRun[] = [];
let opened: OpenedRunView | undefined;

// ── DOM ──────────────────────────────────────────────────────────────────────
const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
const runSelect = h('select', { id: 'run', 'data-testid': 'run-select' });
const runInfo = h('span', { class: 'muted', 'data-testid': 'run-info' });
// One base, many task models: the runs trained from the active run's base, to switch between.
const taskSelect = h('select', { id: 'task', 'data-testid': 'task-select', title: 'Task runs of the same base model (they share its encoder)' });
const baseInfo = h('p', { class: 'base-info', 'data-testid': 'active-base' });
const taskRow = h('div', { class: 'task-row' }, h('label', { for: 'task', text: 'Task' }), taskSelect, baseInfo);
const status = h('p', { class: 'status', role: 'status', 'data-testid': 'status' });
const text = h('textarea', { id: 'text', rows: 3, spellcheck: 'false', 'data-testid': 'text', placeholder: 'Type a sentence…' });
const pairToggle = h('input', { type: 'checkbox', id: 'pair-toggle', 'data-testid': 'pair-toggle' });
const pairToggleLabel = h('label', { class: 'toggle' }, pairToggle, ' Sentence pair');
const textPair = h('textarea', { id: 'text-pair', rows: 3, spellcheck: 'false', 'data-testid': 'text-pair', placeholder: 'Second sentence…' });
const pairField = h('div', { class: 'field' }, h('label', { for: 'text-pair', text: 'Second text' }), textPair);
const predictBtn = h('button', { type: 'submit', class: 'primary', 'data-testid': 'predict', text: 'Predict' });
const fileBtn = h('button', { type: 'button', class: 'secondary', 'data-testid': 'predict-file', text: 'Predict a file…', title: 'Predict every row of a CSV, TSV, JSONL or Parquet file; writes <name>.predictions.csv beside it' });
const form = h(
  'form',
  { class: 'inputs', 'aria-label': 'Input' },
  h('div', { class: 'field' }, h('label', { for: 'text', text: 'Text' }), text),
  pairToggleLabel,
  pairField,
  h('div', { class: 'actions' }, predictBtn, h('span', { class: 'muted hint', text: 'Enter or Ctrl+Enter to predict · Shift+Enter for a new line' }), h('span', { class: 'spacer' }), fileBtn),
);
const summary = h('p', { class: 'summary', 'data-testid': 'summary' });
const table = h('table', { class: 'result', 'data-testid': 'result-table' });
const latency = h('p', { class: 'muted', 'data-testid': 'latency' });
const batchStatus = h('p', { class: 'muted', role: 'status', 'data-testid': 'batch-status' });
// The summary is the live region: one sentence per answer, not every table cell.
const results = h('section', { class: 'results', 'aria-label': 'Prediction' }, h('div', { 'aria-live': 'polite' }, summary), table, latency);
const empty = h('p', { class: 'muted', 'data-testid': 'empty', text: 'No run to try yet: finish (or stop) a training run first. Runs with a checkpoint appear here.' });

app.replaceChildren(h('header', {}, h('label', { for: 'run', text: 'Run' }), runSelect, runInfo), taskRow, empty, status, form, results, batchStatus);
text.value = state.text;
textPair.value = state.textPair;
pairToggle.checked = state.wantsPair;

// ── rendering ────────────────────────────────────────────────────────────────
function persist(): void {
  api.setState(state);
}

function renderRuns(): void {
  empty.hidden = runs.length > 0;
  form.hidden = runs.length === 0;
  const options = runs.map((r) => h('option', { value: r.runId, text: `${r.label} — ${r.method ? `${r.method}, ` : ''}${r.status}${r.metric ? `, ${r.metric}` : ''}` }));
  if (state.runId && !runs.some((r) => r.runId === state.runId)) options.unshift(h('option', { value: state.runId, text: `${state.runId} (not available)` }));
  runSelect.replaceChildren(...options);
  if (state.runId) runSelect.value = state.runId;
  const siblings = sameBaseRuns(runs, state.runId);
  taskRow.hidden = siblings.length === 0;
  taskSelect.replaceChildren(...siblings.map((r) => h('option', { value: r.runId, text: taskOptionText(r) })));
  if (state.runId) taskSelect.value = state.runId;
  taskSelect.disabled = siblings.length < 2;
  setText(baseInfo, activeBaseText(runs.find((r) => r.runId === state.runId)));
}

function renderInputs(): void {
  const pairShown = showPairBox(opened, state.wantsPair);
  pairField.hidden = !pairShown;
  // A pair run always takes two texts; the toggle is for trying a second text on a single-text run.
  pairToggleLabel.hidden = opened?.pair === true;
  predictBtn.disabled = !opened || opened.runId !== state.runId;
  fileBtn.disabled = !state.runId;
  if (opened && opened.runId === state.runId) {
    const task = opened.task === 'regression' ? 'regression' : `${opened.labels.length} classes${opened.task === 'multi_label' ? ', multi-label' : ''}`;
    setText(runInfo, `${opened.method ? `${opened.method} · ` : ''}${opened.checkpoint ?? `step ${opened.step}`} · ${task}${opened.pair ? ' · sentence pairs' : ''} · ${opened.backend}`);
  } else setText(runInfo, '');
}

function renderResult(): void {
  const last = state.last;
  const show = last !== undefined && opened !== undefined && last.runId === opened.runId;
  results.hidden = !show;
  if (!show) return;
  setText(summary, summarize(opened!, last.trained, last.base));
  const head = h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: opened!.task === 'regression' ? '' : 'Class' }), h('th', { scope: 'col', text: `Trained (step ${opened!.step})`, title: opened!.method ?? '' }), h('th', { scope: 'col', text: 'Base' })));
  const body = h('tbody');
  if (opened!.task === 'regression') {
    body.append(h('tr', {}, h('th', { scope: 'row', text: 'Value' }), h('td', { class: 'num', text: formatScore(last.trained.score) }), h('td', { class: 'num', text: formatScore(last.base.score) })));
  } else {
    for (const r of resultRows(opened!, last.trained, last.base)) {
      body.append(h('tr', {}, h('th', { scope: 'row', text: r.label }), cellWithBar(r.trained, r.trainedText, r.trainedPicked), cellWithBar(r.base, r.baseText, r.basePicked)));
    }
  }
  table.replaceChildren(h('caption', { class: 'visually-hidden', text: 'Probability of each class, trained model and base model' }), head, body);
  setText(latency, `trained ${formatLatency(last.ms.trained)} · base ${formatLatency(last.ms.base)} · round trip ${formatLatency(last.ms.total)}`);
}

/** The percentage is the cell's text; the bar repeats it for the eye and is hidden from screen readers. */
function cellWithBar(p: number, label: string, picked: boolean): HTMLTableCellElement {
  const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
  bar.style.setProperty('--p', String(Number.isFinite(p) ? Math.max(0, Math.min(1, p)) : 0));
  const value = h('span', { class: 'value', text: label });
  const cell = h('td', { class: picked ? 'picked' : undefined }, h('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar), value);
  if (picked) cell.append(h('span', { class: 'visually-hidden', text: ' (predicted)' }));
  return cell;
}

function render(): void {
  renderRuns();
  renderInputs();
  renderResult();
}

// ── actions ──────────────────────────────────────────────────────────────────
function selectRun(runId: string): void {
  if (runId === state.runId && opened?.runId === runId) return;
  state.runId = runId;
  opened = undefined;
  requests.reset();
  setText(status, `Loading ${runs.find((r) => r.runId === runId)?.label ?? runId}…`);
  persist();
  render();
  post({ v: 1, kind: 'playground/selectRun', runId });
}

function submit(): void {
  if (!opened || opened.runId !== state.runId) return;
  const t = text.value;
  if (!t.trim()) return void setText(status, 'Type a sentence first.');
  const pair = showPairBox(opened, state.wantsPair) ? textPair.value : undefined;
  if (pair !== undefined && !pair.trim()) return void setText(status, 'Type the second sentence too (or turn off "Sentence pair").');
  setText(status, 'Predicting…');
  post({ v: 1, kind: 'playground/predict', requestId: requests.issue(), runId: opened.runId, text: t, ...(pair !== undefined && { textPair: pair }) });
}

function onHost(m: HostToPlayground): void {
  switch (m.kind) {
    case 'playground/didChangeRuns':
      runs = m.runs;
      if (m.selected && m.selected !== state.runId) selectRun(m.selected);
      else if (!state.runId && runs[0]) selectRun(runs[0].runId);
      break;
    case 'playground/didOpenRun':
      if (m.run.runId !== state.runId) return;
      opened = m.run;
      setText(status, m.run.notices.join(' '));
      break;
    case 'playground/didPredict':
      if (!requests.isCurrent(m.requestId) || m.runId !== state.runId) return;
      state.last = { runId: m.runId, trained: m.trained, base: m.base, ms: m.ms };
      setText(status, '');
      persist();
      break;
    case 'playground/didFail':
      if (m.requestId !== undefined && !requests.isCurrent(m.requestId)) return;
      if (m.runId !== undefined && m.runId !== state.runId) return;
      setText(status, m.message);
      break;
    case 'playground/didChangeBatch':
      setText(batchStatus, m.message);
      break;
  }
  render();
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
for (const box of [text, textPair]) {
  box.addEventListener('keydown', (e) => {
    if (!shouldSubmit(e)) return;
    e.preventDefault();
    submit();
  });
  box.addEventListener('input', () => {
    state.text = text.value;
    state.textPair = textPair.value;
    persist();
  });
}
pairToggle.addEventListener('change', () => {
  state.wantsPair = pairToggle.checked;
  persist();
  renderInputs();
  if (!pairField.hidden) textPair.focus();
});
runSelect.addEventListener('change', () => selectRun(runSelect.value));
taskSelect.addEventListener('change', () => selectRun(taskSelect.value));
fileBtn.addEventListener('click', () => {
  if (state.runId) post({ v: 1, kind: 'playground/predictFile', runId: state.runId });
});
window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (isPlaygroundMessage(e.data)) onHost(e.data);
});
window.addEventListener('error', (e) => post({ v: 1, kind: 'playground/log', level: 'error', message: String(e.message).slice(0, 4000) }));

render();
text.focus();
post({ v: 1, kind: 'playground/ready' });

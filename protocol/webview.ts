/**
 * Every message between the extension host and its webviews (the dashboard panel and the sidebar's loss
 * view), GitLens style: host → webview notifications are `…/did…`, webview → host commands are verbs.
 * Run data itself is the engine's event stream (engine/protocol/events.ts), relayed unchanged.
 *
 * Both sides compile this folder (protocol/): the host (extension/) and the webview bundles (webview/).
 * Nothing from a webview is trusted: the host validates every message with zod before it acts
 * (extension/src/protocol-validate.ts, host-only, so the bundles carry no validator), and no message
 * carries a path — runs are named by id and resolved by the host.
 */
import { toChangeEvent, type ChangeEvent, type EndEvent, type EvalEvent, type RunEvent, type StartedEvent, type StepEvent } from '../engine/protocol/events';

export const PROTOCOL_VERSION = 1;

export type RunStatus = 'queued' | 'running' | 'paused' | 'finished' | 'stopped' | 'failed';

/** One run as the dashboard draws it. Steps are columnar (compact for 100k points). */
export interface RunView {
  runId: string;
  label: string;
  status: RunStatus;
  started?: StartedEvent;
  steps: { step: number[]; loss: number[]; lr: number[]; gradNorm: number[]; tokensPerSec: number[]; epoch: number[] };
  evals: EvalEvent[];
  /** What-moved reports in order; older runs' `biasChange` events are folded in as `change` events. */
  changes: ChangeEvent[];
  end?: EndEvent;
  /** The run's warnings (`log` events of level warn: divergence), in order. */
  warnings?: string[];
  /**
   * The loss's parts per step when the run reports them (distillation: kd, task, cos), each column aligned
   * with `steps.step` (NaN where a step left one out).
   */
  components?: Record<string, number[]>;
  /** A distillation run's closing teacher-vs-student table (its final `log` event), as the engine wrote it. */
  distillSummary?: string;
  /** How many events of the run's stream are folded in; batches say where they start, so none applies twice. */
  applied: number;
}

// ── host → webview ───────────────────────────────────────────────────────────
export interface DashboardStateMessage {
  v: 1;
  kind: 'dashboard/didChangeState';
  timestamp: number;
  runs: RunView[];
  /** Runs shown (overlaid); the first is the focused one (heatmap, controls). */
  selected: string[];
}
export interface RunEventsMessage {
  v: 1;
  kind: 'run/didAppendEvents';
  runId: string;
  /** Index of `events[0]` in the run's event stream: a snapshot may already hold some of them. */
  firstIndex: number;
  /** A batch: the host coalesces events for ~50 ms so a fast run cannot flood the webview. */
  events: RunEvent[];
}
export interface RunStatusMessage {
  v: 1;
  kind: 'run/didChangeStatus';
  runId: string;
  status: RunStatus;
}
export type HostToWebview = DashboardStateMessage | RunEventsMessage | RunStatusMessage;

// ── webview → host ───────────────────────────────────────────────────────────
// Commands are verbs. Their zod schema lives in protocol-validate.ts (host only), so the webview bundle
// carries no validator it does not use.
export type WebviewToHost =
  | { v: 1; kind: 'dashboard/ready' }
  | { v: 1; kind: 'run/pause' | 'run/resume' | 'run/stop'; runId: string }
  | { v: 1; kind: 'dashboard/select'; runIds: string[] }
  | { v: 1; kind: 'dashboard/log'; level: 'info' | 'warn' | 'error'; message: string };

export function emptyRunView(runId: string, label: string, status: RunStatus): RunView {
  return { runId, label, status, steps: { step: [], loss: [], lr: [], gradNorm: [], tokensPerSec: [], epoch: [] }, evals: [], changes: [], applied: 0 };
}

/** Folds one engine event into a run view; shared by the host (restore from events.jsonl) and the webview. */
export function applyEvent(view: RunView, e: RunEvent): void {
  view.applied = (view.applied ?? 0) + 1;
  switch (e.type) {
    case 'started':
      view.started = e;
      view.status = 'running';
      view.end = undefined;
      // A resumed run continues the same folder: drop anything recorded after the checkpoint it resumes.
      if (e.resumedFrom) truncateAfter(view, e.resumedFrom.step);
      break;
    case 'step': {
      const s: StepEvent = e;
      view.steps.step.push(s.step);
      view.steps.loss.push(s.loss);
      view.steps.lr.push(s.lr);
      view.steps.gradNorm.push(s.gradNorm);
      view.steps.tokensPerSec.push(s.tokensPerSec);
      view.steps.epoch.push(s.epoch);
      if (s.components || view.components) appendComponents(view, s.components ?? {});
      break;
    }
    case 'eval':
      view.evals.push(e);
      break;
    case 'change':
    case 'biasChange':
      view.changes.push(toChangeEvent(e));
      break;
    case 'paused':
      view.status = 'paused';
      break;
    case 'resumed':
      view.status = 'running';
      break;
    case 'finished':
    case 'stopped':
    case 'failed':
      view.end = e;
      view.status = e.type;
      break;
    case 'log':
      if (e.level === 'warn') (view.warnings ??= []).push(e.message);
      else if (e.message.startsWith(DISTILL_SUMMARY_HEAD)) view.distillSummary = e.message;
      break;
    default:
      break;
  }
}

/** The first line of the engine's teacher-vs-student table (engine/train/trainer.ts distillSummary). */
export const DISTILL_SUMMARY_HEAD = 'distillation: teacher vs student';

/** Appends one step's loss parts, keeping every column as long as `steps.step` (NaN for a part left out). */
function appendComponents(view: RunView, parts: Record<string, number>): void {
  const cols = (view.components ??= {});
  const n = view.steps.step.length;
  for (const k of Object.keys(parts)) cols[k] ??= new Array<number>(n - 1).fill(NaN);
  for (const [k, col] of Object.entries(cols)) {
    col.length = Math.min(col.length, n - 1);
    while (col.length < n - 1) col.push(NaN);
    col.push(parts[k] ?? NaN);
  }
}

function truncateAfter(view: RunView, step: number): void {
  const keep = view.steps.step.findIndex((s) => s > step);
  if (keep >= 0) for (const k of Object.keys(view.steps) as Array<keyof RunView['steps']>) view.steps[k].length = keep;
  if (keep >= 0 && view.components) for (const col of Object.values(view.components)) col.length = Math.min(col.length, keep);
  view.evals = view.evals.filter((e) => e.step <= step);
  view.changes = view.changes.filter((e) => e.step <= step);
}

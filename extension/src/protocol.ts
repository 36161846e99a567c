/**
 * Every message between the extension host and its webviews (the dashboard panel and the sidebar's loss
 * view), GitLens style: host → webview notifications are `…/did…`, webview → host commands are verbs.
 * Run data itself is the engine's event stream (engine/protocol/events.ts), relayed unchanged.
 *
 * Nothing from a webview is trusted: `parseWebviewMessage` validates with zod before the host acts, and no
 * message carries a path — runs are named by id and resolved by the host against its own list.
 */
import { z } from 'zod';
import type { BiasChangeEvent, EndEvent, EvalEvent, RunEvent, StartedEvent, StepEvent } from '../../engine/protocol/events';

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
  biasChanges: BiasChangeEvent[];
  end?: EndEvent;
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
const runId = z.string().min(1).max(200).regex(/^[A-Za-z0-9._-]+$/, 'run ids are folder names');
export const WebviewToHostSchema = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(1), kind: z.literal('dashboard/ready') }),
  z.object({ v: z.literal(1), kind: z.literal('run/pause'), runId }),
  z.object({ v: z.literal(1), kind: z.literal('run/resume'), runId }),
  z.object({ v: z.literal(1), kind: z.literal('run/stop'), runId }),
  z.object({ v: z.literal(1), kind: z.literal('dashboard/select'), runIds: z.array(runId).max(16) }),
  z.object({ v: z.literal(1), kind: z.literal('dashboard/log'), level: z.enum(['info', 'warn', 'error']), message: z.string().max(4000) }),
]);
export type WebviewToHost = z.infer<typeof WebviewToHostSchema>;

/** Validates an untrusted webview message; undefined (and a reason) when it is not one we accept. */
export function parseWebviewMessage(raw: unknown): { ok: true; message: WebviewToHost } | { ok: false; reason: string } {
  const r = WebviewToHostSchema.safeParse(raw);
  return r.success ? { ok: true, message: r.data } : { ok: false, reason: r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') };
}

export function emptyRunView(runId: string, label: string, status: RunStatus): RunView {
  return { runId, label, status, steps: { step: [], loss: [], lr: [], gradNorm: [], tokensPerSec: [], epoch: [] }, evals: [], biasChanges: [] };
}

/** Folds one engine event into a run view; shared by the host (restore from events.jsonl) and the webview. */
export function applyEvent(view: RunView, e: RunEvent): void {
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
      break;
    }
    case 'eval':
      view.evals.push(e);
      break;
    case 'biasChange':
      view.biasChanges.push(e);
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
    default:
      break;
  }
}

function truncateAfter(view: RunView, step: number): void {
  const keep = view.steps.step.findIndex((s) => s > step);
  if (keep >= 0) for (const k of Object.keys(view.steps) as Array<keyof RunView['steps']>) view.steps[k].length = keep;
  view.evals = view.evals.filter((e) => e.step <= step);
  view.biasChanges = view.biasChanges.filter((e) => e.step <= step);
}

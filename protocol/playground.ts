/**
 * Messages between the host and the playground webview ("Try it"), GitLens style like webview.ts:
 * host → webview notifications are `playground/did…`, webview → host commands are verbs. Runs are named by
 * id only; the host resolves them and picks files itself, so no message from the webview carries a path.
 * The zod schema for webview → host messages is host-only (validate.ts): the webview bundle carries none.
 */
import type { RunStatus } from './webview';

export type PlaygroundTask = 'classification' | 'regression' | 'multi_label';

/** A run the playground can load: finished, or stopped with a checkpoint. */
export interface PlaygroundRun {
  runId: string;
  label: string;
  status: RunStatus;
  /** The method and its key settings ("LoRA r=8"). */
  method?: string;
  /** Best eval metric, already formatted (`accuracy 0.912`), when the run has one. */
  metric?: string;
  /** The base model it was trained from: the grouping key (its folder) and its name (`bert-tiny`). */
  baseKey?: string;
  base?: string;
  /** The task, in a word (its training data's name: `sentiment`). */
  task?: string;
}

/** What the webview needs to lay out the inputs and the result table for a loaded run. */
export interface OpenedRunView {
  runId: string;
  labels: string[];
  task: PlaygroundTask;
  pair: boolean;
  step: number;
  /** Which checkpoint and why: "checkpoint step-00000125 (its best: accuracy 0.7100)". */
  checkpoint: string;
  backend: string;
  /** The method the trained model was made with and its settings ("LoRA r=8 lora_alpha=16 query+value"). */
  method?: string;
  notices: string[];
}

/**
 * One model's answer, as the engine's `predict` returns it (engine/api/model-handle.ts `Prediction`) less the
 * logits: the page shows probabilities. Spelled out rather than imported, so the webview's type-check does
 * not pull in the engine.
 */
export interface PredictionView {
  label?: string;
  labelId?: number;
  probabilities?: number[];
  /** Regression output. */
  score?: number;
  truncated: boolean;
}

// ── host → webview ───────────────────────────────────────────────────────────
export type HostToPlayground =
  | { v: 1; kind: 'playground/didChangeRuns'; runs: PlaygroundRun[]; selected?: string }
  | { v: 1; kind: 'playground/didOpenRun'; run: OpenedRunView }
  | {
      v: 1;
      kind: 'playground/didPredict';
      requestId: number;
      runId: string;
      trained: PredictionView;
      base: PredictionView;
      /** Forward passes in the worker, and the whole round trip the user waited for. */
      ms: { trained: number; base: number; total: number };
    }
  | { v: 1; kind: 'playground/didFail'; runId?: string; requestId?: number; message: string }
  | { v: 1; kind: 'playground/didChangeBatch'; runId: string; state: 'running' | 'done' | 'cancelled' | 'failed'; message: string };

// ── webview → host ───────────────────────────────────────────────────────────
export type PlaygroundToHost =
  | { v: 1; kind: 'playground/ready' }
  | { v: 1; kind: 'playground/selectRun'; runId: string }
  | { v: 1; kind: 'playground/predict'; requestId: number; runId: string; text: string; textPair?: string }
  | { v: 1; kind: 'playground/predictFile'; runId: string }
  | { v: 1; kind: 'playground/log'; level: 'info' | 'warn' | 'error'; message: string };

/** Longest text the playground sends (characters): far past any model's positions, short of a pasted book. */
export const MAX_TEXT = 20_000;

export function toView(p: PredictionView & { logits?: number[] }): PredictionView {
  return { label: p.label, labelId: p.labelId, probabilities: p.probabilities, score: p.score, truncated: p.truncated };
}

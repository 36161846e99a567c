/**
 * The run event stream: what a training run says about itself, in order. The trainer appends each event to
 * `<run>/events.jsonl` and hands it to its listener (the CLI's progress bar, the worker's stdout); the
 * extension and the dashboard consume exactly these objects. Versioned (`v`) so a dashboard can refuse or
 * adapt older runs; `isRunEvent` checks an untrusted object (a line from a file or a worker) before use.
 */

export const EVENTS_VERSION = 1;

export interface TrainableTensor {
  name: string;
  size: number;
  why: string;
}

export interface StartedEvent {
  v: 1;
  type: 'started';
  runId: string;
  time: string;
  /** The resolved run config (every default filled in). */
  config: Record<string, unknown>;
  method: string;
  trainable: { count: number; total: number; percent: number; tensors: TrainableTensor[] };
  backend: { active: string; attempts: Array<{ name: string; ok: boolean; reason?: string }> };
  /** `evalMajority`: for classification, the share of the eval set's most common label (the majority-class baseline's accuracy). */
  data: { train: number; eval: number; badRows: number; task: string; numLabels: number; id2label: Record<string, string>; evalMajority?: number };
  totalSteps: number;
  stepsPerEpoch: number;
  /** Set when this run continues from a checkpoint. */
  resumedFrom?: { step: number; path: string };
  /**
   * The what-moved grid's rows and columns (`kinds`: bias kinds for BitFit, LoRA's target modules, adapter
   * places, …) and what a cell measures, so a dashboard can lay it out before the first report. Runs
   * written before `measure` existed are BitFit's (`mean |Δb|`).
   */
  heatmap: { rows: string[]; kinds: string[]; measure?: string };
  notices: string[];
  /** A distillation run: the teacher, its eval metrics (the reference line), the loss mix and the student's layers. */
  distill?: {
    teacher: string;
    teacherMetrics?: Record<string, number>;
    studentLayers?: number[];
    temperature: number;
    alpha_kd: number;
    alpha_task: number;
    alpha_cos: number;
  };
}

export interface StepEvent {
  v: 1;
  type: 'step';
  step: number;
  /** Fractional epoch, as HF logs it: steps done / steps per epoch. */
  epoch: number;
  /** This step's forward-pass loss, before its update. */
  loss: number;
  lr: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
  /** Non-padding tokens processed per second in this step. */
  tokensPerSec: number;
  time: number;
  /** The loss's parts when it has several (distillation: kd, task, cos), each its batch mean before weighting. */
  components?: Record<string, number>;
}

export interface EvalEvent {
  v: 1;
  type: 'eval';
  step: number;
  epoch: number;
  loss: number;
  metrics: Record<string, number>;
  /** The metric that ranks checkpoints, and whether this evaluation is the best so far. */
  primary: string;
  isBest: boolean;
  examples: number;
  seconds: number;
}

export interface BiasCell {
  /** HF parameter name. */
  name: string;
  row: string;
  kind: string;
  /** ‖b − b₀‖₁ / dim: the BitFit paper's measure. */
  meanAbs: number;
  /** ‖b − b₀‖₂ / ‖b₀‖₂; null when b₀ is all zeros (a fresh head). */
  relative: number | null;
  /** The most-moved units: index and signed change. */
  top: Array<{ index: number; delta: number }>;
}

/** The event BitFit runs wrote before the method-neutral `change` event; still read (as a `change`). */
export interface BiasChangeEvent {
  v: 1;
  type: 'biasChange';
  step: number;
  cells: BiasCell[];
}

/** One cell of the what-moved grid: a row (embeddings, layer.i, pooler, classifier) × a method's column. */
export interface ChangeCell {
  /** The tensor(s) behind the cell, HF / PEFT names. */
  name: string;
  row: string;
  /** The column: a bias kind, a LoRA target, an adapter place, a virtual token. */
  kind: string;
  /** The cell's number (its colour): the measure named by the event's `measure`. */
  value: number;
  /** Change relative to the start (‖Δ‖ / ‖start‖); null when the start is all zeros. */
  relative: number | null;
  /** BitFit's ‖b − b₀‖₁ / dim (= value for BitFit cells). */
  meanAbs?: number;
  /** The most-moved units: index and signed change (BitFit), or largest entries of a method's own measure. */
  top: Array<{ index: number; delta: number }>;
  /** Further lists shown when the cell is selected (LoRA: singular values of ΔW, most-moved input/output units). */
  details?: Array<{ title: string; items: Array<{ label: string; value: number }> }>;
}

/** What moved: every `change_steps` steps and at the end, one cell per trained place. */
export interface ChangeEvent {
  v: 1;
  type: 'change';
  step: number;
  /** What `value` is: `mean |Δb|`, `‖ΔW‖F / ‖W‖F`, … */
  measure: string;
  cells: ChangeCell[];
}

export const BITFIT_MEASURE = 'mean |Δb|';

/** A run's older `biasChange` event as the `change` event it would be today (BitFit's numbers unchanged). */
export function toChangeEvent(e: BiasChangeEvent | ChangeEvent): ChangeEvent {
  if (e.type === 'change') return e;
  return { v: 1, type: 'change', step: e.step, measure: BITFIT_MEASURE, cells: e.cells.map((c) => ({ ...c, value: c.meanAbs })) };
}

export interface CheckpointEvent {
  v: 1;
  type: 'checkpoint';
  step: number;
  path: string;
  isBest: boolean;
}

export interface StateEvent {
  v: 1;
  type: 'paused' | 'resumed';
  step: number;
  time: string;
}

export interface EndEvent {
  v: 1;
  type: 'finished' | 'stopped' | 'failed';
  step: number;
  time: string;
  /** Why the run stopped or failed (NaN loss, user request, disk full, …). */
  reason?: string;
  /** Error code for failures (PeftStudioError codes). */
  code?: string;
  finalMetrics?: Record<string, number>;
  bestCheckpoint?: string;
  seconds: number;
}

export interface LogEvent {
  v: 1;
  type: 'log';
  level: 'info' | 'warn' | 'error';
  message: string;
  time: string;
}

export type RunEvent = StartedEvent | StepEvent | EvalEvent | ChangeEvent | BiasChangeEvent | CheckpointEvent | StateEvent | EndEvent | LogEvent;
export type RunEventType = RunEvent['type'];

const isNum = (x: unknown): x is number => typeof x === 'number' && !Number.isNaN(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Structural check of an untrusted value. Loose on extra fields (forward compatible), strict on the ones used. */
export function isRunEvent(x: unknown): x is RunEvent {
  if (!isObj(x) || x.v !== EVENTS_VERSION || !isStr(x.type)) return false;
  switch (x.type) {
    case 'started':
      return isStr(x.runId) && isObj(x.config) && isObj(x.trainable) && isNum(x.totalSteps) && isObj(x.heatmap);
    case 'step':
      // loss may be NaN/Infinity only in a failed step, which is reported by a 'failed' event instead.
      return isNum(x.step) && isNum(x.epoch) && typeof x.loss === 'number' && isNum(x.lr) && typeof x.gradNorm === 'number';
    case 'eval':
      return isNum(x.step) && isObj(x.metrics) && Object.values(x.metrics).every((m) => typeof m === 'number');
    case 'biasChange':
      return (
        isNum(x.step) &&
        Array.isArray(x.cells) &&
        x.cells.every((c) => isObj(c) && isStr(c.name) && isStr(c.row) && isStr(c.kind) && isNum(c.meanAbs) && Array.isArray(c.top))
      );
    case 'change':
      return (
        isNum(x.step) &&
        isStr(x.measure) &&
        Array.isArray(x.cells) &&
        x.cells.every((c) => isObj(c) && isStr(c.name) && isStr(c.row) && isStr(c.kind) && isNum(c.value) && Array.isArray(c.top))
      );
    case 'checkpoint':
      return isNum(x.step) && isStr(x.path);
    case 'paused':
    case 'resumed':
      return isNum(x.step);
    case 'finished':
    case 'stopped':
    case 'failed':
      return isNum(x.step) && (x.reason === undefined || isStr(x.reason));
    case 'log':
      return isStr(x.message) && (x.level === 'info' || x.level === 'warn' || x.level === 'error');
    default:
      return false;
  }
}

/** JSON without NaN surprises: JSON.stringify writes NaN as null, so non-finite numbers become strings. */
export function encodeEvent(e: RunEvent): string {
  return JSON.stringify(e, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

export function decodeEvent(line: string): RunEvent | undefined {
  let x: unknown;
  try {
    x = JSON.parse(line, (_k, v) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v));
  } catch {
    return undefined;
  }
  return isRunEvent(x) ? x : undefined;
}

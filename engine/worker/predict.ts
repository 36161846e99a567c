/**
 * The predict worker: one long-lived child process that keeps a run's trained model and its base model
 * loaded, so trying a sentence costs a forward pass, not a model load. Spawned by the extension's
 * playground (or anything else that speaks its protocol); the editor's process never runs tensor math.
 *
 * Protocol (Node IPC channel, `child_process.fork`); every request carries a `requestId` its answer echoes:
 *   parent → worker  { kind: 'open', requestId, runDir, checkpoint? }  load (or reuse) a run's models
 *                    { kind: 'predict', requestId, runDir, texts } | { …, pairs: [[a, b], …] }
 *                    { kind: 'predictFile', requestId, runDir, path, out?, onBadRow? }
 *                    { kind: 'cancel', requestId }                    stop a predictFile between batches
 *   worker → parent  { kind: 'opened', requestId, run }               labels, task, pair?, checkpoint step
 *                    { kind: 'predicted', requestId, trained, base, ms: { trained, base } }
 *                    { kind: 'progress', requestId, done, total }     predictFile, after each batch
 *                    { kind: 'fileDone', requestId, result }          written (or cancelled: nothing written)
 *                    { kind: 'error', requestId, code, message }      this request failed; the worker lives on
 * Runs stay loaded (up to MAX_RUNS, least recently used first out) over one shared encoder per base model:
 * switching between task adapters of one base costs their heads and adapters, not another model load or a
 * second model in memory. A run replaced while a request still uses it is disposed when that request ends;
 * an encoder no open run uses is freed. The worker exits when its parent goes away. Logs go to stderr.
 */
import { PeftStudioError } from '../errors';
import type { Prediction, PredictInput } from '../api/model-handle';
import { predict } from '../api/model-handle';
import { predictFile, predictionsPath, type PredictFileResult } from '../api/predict-file';
import { disposeRunModels, openRunModels, type RunModels } from '../api/run-models';
import { SharedBases } from '../train/export';

export type PredictRequest =
  | { kind: 'open'; requestId: number; runDir: string; checkpoint?: string }
  | ({ kind: 'predict'; requestId: number; runDir: string } & ({ texts: string[] } | { pairs: Array<[string, string]> }))
  | { kind: 'predictFile'; requestId: number; runDir: string; path: string; out?: string; onBadRow?: 'fail' | 'skip' }
  | { kind: 'cancel'; requestId: number };

export interface OpenedRun {
  runDir: string;
  checkpoint: string;
  /** Which checkpoint and why, for the page: "checkpoint step-00000125 (its best: accuracy 0.7100)". */
  checkpointNote: string;
  step: number;
  task: 'classification' | 'regression' | 'multi_label';
  labels: string[];
  pair: boolean;
  backend: string;
  notices: string[];
}

export type PredictReply =
  | { kind: 'opened'; requestId: number; run: OpenedRun }
  | { kind: 'predicted'; requestId: number; trained: Prediction[]; base: Prediction[]; ms: { trained: number; base: number } }
  | { kind: 'progress'; requestId: number; done: number; total: number }
  | { kind: 'fileDone'; requestId: number; result: PredictFileResult }
  | { kind: 'error'; requestId: number; code: string; message: string };

const TASK = { single_label_classification: 'classification', regression: 'regression', multi_label_classification: 'multi_label' } as const;

/** Task models kept at once; each is its head and method tensors over a shared encoder. */
const MAX_RUNS = 8;

interface Entry {
  runDir: string;
  checkpoint?: string;
  models: Promise<RunModels>;
  users: number;
  /** The base model folder, once known (for freeing its encoder). */
  base?: string;
}

const shared = new SharedBases();
/** Open runs, most recently used last. */
const runs: Entry[] = [];
const retired: Entry[] = [];
const cancelled = new Set<number>();

function send(m: PredictReply): void {
  if (process.connected) process.send!(m);
}

async function acquire(runDir: string, checkpoint?: string): Promise<{ models: RunModels; release: () => void }> {
  let entry = runs.find((e) => e.runDir === runDir && (checkpoint === undefined || e.checkpoint === checkpoint));
  if (entry) runs.splice(runs.indexOf(entry), 1);
  else {
    const stale = runs.find((e) => e.runDir === runDir);
    if (stale) retire(stale);
    const models = openRunModels(runDir, { checkpoint, shared });
    const fresh: Entry = { runDir, checkpoint, models, users: 0 };
    entry = fresh;
    models.then(
      (m) => (fresh.base = m.info.config.model),
      () => {
        // A failed load is not cached: the next request tries again (the user may have fixed the folder).
        const i = runs.indexOf(fresh);
        if (i >= 0) runs.splice(i, 1);
      },
    );
  }
  runs.push(entry);
  while (runs.length > MAX_RUNS) retire(runs[0]!);
  const e = entry;
  e.users++;
  try {
    const models = await e.models;
    return { models, release: () => release(e) };
  } catch (err) {
    release(e);
    throw err;
  }
}

/** A replaced run is disposed as soon as its last request (say, a long predictFile) is done with it. */
function retire(entry: Entry): void {
  const i = runs.indexOf(entry);
  if (i >= 0) runs.splice(i, 1);
  retired.push(entry);
  release(entry, 0);
}

function release(entry: Entry, by = 1): void {
  entry.users -= by;
  const i = retired.indexOf(entry);
  if (i >= 0 && entry.users <= 0) {
    retired.splice(i, 1);
    entry.models.then((m) => {
      disposeRunModels(m);
      // The shared encoder goes when no open run still reads it.
      const base = m.info.config.model;
      if (![...runs, ...retired].some((e) => e.base === base)) shared.release(base);
    }, () => undefined);
  }
}

function describe(m: RunModels): OpenedRun {
  return {
    runDir: m.info.runDir,
    checkpoint: m.checkpoint,
    checkpointNote: m.used.replace(/^run .*?, (?=checkpoint )/, ''),
    step: m.step,
    task: TASK[m.problem],
    labels: m.labels,
    pair: m.pair,
    backend: m.trained.backend.active,
    notices: m.base.notices,
  };
}

async function handle(req: Exclude<PredictRequest, { kind: 'cancel' }>): Promise<void> {
  const { models, release } = await acquire(req.runDir, req.kind === 'open' ? req.checkpoint : undefined);
  try {
    if (req.kind === 'open') return send({ kind: 'opened', requestId: req.requestId, run: describe(models) });
    if (req.kind === 'predict') {
      const inputs: PredictInput[] | undefined =
        'texts' in req && Array.isArray(req.texts) ? req.texts.map((text) => ({ text }))
        : 'pairs' in req && Array.isArray(req.pairs) ? req.pairs.map(([text, textPair]) => ({ text, textPair }))
        : undefined;
      if (!inputs?.length) throw new PeftStudioError('BAD_INPUT', 'nothing to predict: give at least one text');
      let t = performance.now();
      const trained = await predict(models.trained, inputs);
      const trainedMs = performance.now() - t;
      t = performance.now();
      const base = await predict(models.base, inputs);
      return send({ kind: 'predicted', requestId: req.requestId, trained, base, ms: { trained: trainedMs, base: performance.now() - t } });
    }
    const c = models.info.config;
    const result = await predictFile(models.trained, req.path, req.out ?? predictionsPath(req.path), {
      columns: { text: c.text_column, textPair: c.text_pair_column },
      onBadRow: req.onBadRow,
      onProgress: (done, total) => send({ kind: 'progress', requestId: req.requestId, done, total }),
      cancelled: () => cancelled.has(req.requestId),
    });
    send({ kind: 'fileDone', requestId: req.requestId, result });
  } finally {
    cancelled.delete(req.requestId);
    release();
  }
}

function main(): void {
  if (!process.send) {
    process.stderr.write('peft-studio predict worker: must be started with an IPC channel (child_process.fork)\n');
    process.exit(2);
  }
  process.on('message', (raw: unknown) => {
    const m = raw as PredictRequest;
    if (typeof m?.requestId !== 'number') return;
    if (m.kind === 'cancel') return void cancelled.add(m.requestId);
    if (m.kind !== 'open' && m.kind !== 'predict' && m.kind !== 'predictFile') return;
    handle(m).catch((e: unknown) => {
      const err = e instanceof PeftStudioError ? e : undefined;
      const message = err?.message ?? String((e as Error)?.stack ?? e);
      process.stderr.write(`${message}\n`);
      send({ kind: 'error', requestId: m.requestId, code: err?.code ?? 'INTERNAL', message });
    });
  });
  // Nothing to save here: without a parent there is no one to answer, so leave at once.
  process.on('disconnect', () => process.exit(0));
}

main();

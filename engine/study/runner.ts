/**
 * Runs a study: its runs one after another, in this process, through the engine's own `train()`, each into
 * an ordinary run folder `<study>/runs/<id>/`. The folders are the study's state:
 *  - a run whose events end in `finished` is done and never redone;
 *  - a `stopped` run (Ctrl-C, `stop`) continues from its latest checkpoint, exactly (the trainer's resume);
 *  - a `failed` run, or one cut off with no checkpoint, starts again from scratch;
 * so running the same study again after a stop, a crash or a power cut picks up where it was.
 * A run that fails (bad data, NaN loss, a missing model) is recorded as failed in its folder and the study
 * goes on with the next one. When the runs are done (or the study is stopped) the report is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { EndEvent, RunEvent } from '../protocol/events';
import { listCheckpoints } from '../train/checkpoint';
import type { RunConfig } from '../train/config';
import { TrainingControl } from '../train/control';
import { EventLog, readEvents } from '../train/run-dir';
import { train } from '../train/trainer';
import type { Study, StudyRun } from './config';
import { scratchModel } from './random-init';
import { writeReport, type ReportFiles } from './report';
import { trainSubset } from './subset';

export const RUNS_DIR = 'runs';
/** Per-run file the study writes beside the trainer's: axis values and the study's timings. */
export const STUDY_RUN_FILE = 'study-run.json';

export type RunState = 'pending' | 'finished' | 'stopped' | 'failed' | 'interrupted';

export interface StudyRunRecord {
  id: string;
  axes: StudyRun['axes'];
  study: StudyRun['study'];
  /** The data the run trained on (a subset file under `<study>/data/` with train_rows). */
  train_file: string;
  model: string;
  timing?: RunTiming;
}

/** Where a run's wall time went, measured by the study around `train()`. */
export interface RunTiming {
  /** train() call → `started` event: backend, data, tokenization, model load, method set-up. */
  startupSeconds: number;
  /** `started` → the last step: the training loop (its intermediate evaluations and checkpoints included). */
  trainSeconds: number;
  /** The run's final evaluation. */
  finalEvalSeconds: number;
  /** Last step → train() returned, less the final evaluation: final report, checkpoint, teardown. */
  teardownSeconds: number;
  /** The study's own work before train(): the data subset, the random-init model, reading the folder. */
  studySeconds: number;
  wallSeconds: number;
  steps: number;
  /** Largest TF.js tensor memory seen at a step boundary (weights, optimizer state, caches). */
  peakTensorBytes: number;
}

export type StudyEvent =
  | { type: 'study-started'; runs: number; done: number; outDir: string }
  | { type: 'run-started'; id: string; index: number; runs: number; resume: boolean }
  | { type: 'run-skipped'; id: string; index: number; state: RunState }
  | { type: 'run-event'; id: string; event: RunEvent }
  | { type: 'run-ended'; id: string; index: number; status: 'finished' | 'stopped' | 'failed'; reason?: string; seconds: number }
  | { type: 'study-ended'; status: 'finished' | 'stopped'; counts: Record<RunState, number>; report: ReportFiles };

/** Pause, resume or stop a running study: the current run hears it at its next step boundary. */
export class StudyControl {
  private current?: TrainingControl;
  private paused = false;
  stopped?: string;

  attach(c: TrainingControl): void {
    this.current = c;
    if (this.paused) c.send('pause');
    if (this.stopped) c.send('stop', this.stopped);
  }
  detach(): void {
    this.current = undefined;
  }
  send(cmd: 'pause' | 'resume' | 'stop', reason?: string): void {
    if (cmd === 'stop') this.stopped = reason ?? 'stopped by the user';
    if (cmd === 'pause') this.paused = true;
    if (cmd === 'resume') this.paused = false;
    this.current?.send(cmd, cmd === 'stop' ? this.stopped : undefined);
  }
}

export interface StudyOptions {
  outDir: string;
  onEvent?: (e: StudyEvent) => void;
  control?: StudyControl;
}

export interface StudyResult {
  status: 'finished' | 'stopped';
  counts: Record<RunState, number>;
  report: ReportFiles;
}

/** A run folder's state, from its events alone. */
export function runState(runDir: string): RunState {
  const { events } = readEvents(runDir);
  if (!events.length) return 'pending';
  const end = [...events].reverse().find((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed' || e.type === 'started');
  if (!end || end.type === 'started') return 'interrupted';
  return end.type as RunState;
}

export async function runStudy(study: Study, opts: StudyOptions): Promise<StudyResult> {
  const outDir = path.resolve(opts.outDir);
  const control = opts.control ?? new StudyControl();
  const emit = opts.onEvent ?? (() => {});
  fs.mkdirSync(path.join(outDir, RUNS_DIR), { recursive: true });
  writeFileAtomic(path.join(outDir, 'study.json'), JSON.stringify({ name: study.name, file: study.file, config: study.config, axes: study.axisKeys, runs: study.runs.map((r) => ({ id: r.id, axes: r.axes, study: r.study })) }, null, 2) + '\n');
  const states = study.runs.map((r) => runState(path.join(outDir, RUNS_DIR, r.id)));
  emit({ type: 'study-started', runs: study.runs.length, done: states.filter((s) => s === 'finished').length, outDir });

  for (const [index, run] of study.runs.entries()) {
    if (control.stopped) break;
    const runDir = path.join(outDir, RUNS_DIR, run.id);
    const state = states[index]!;
    if (state === 'finished') {
      emit({ type: 'run-skipped', id: run.id, index, state });
      continue;
    }
    const t0 = performance.now();
    const resume = (state === 'stopped' || state === 'interrupted') && listCheckpoints(runDir).length > 0;
    if (!resume && state !== 'pending') fs.rmSync(runDir, { recursive: true, force: true });
    emit({ type: 'run-started', id: run.id, index, runs: study.runs.length, resume });
    let config: RunConfig;
    let record: StudyRunRecord;
    try {
      config = await runConfigFor(run, outDir, runDir, resume);
      record = { id: run.id, axes: run.axes, study: run.study, train_file: config.train_file, model: config.model };
    } catch (e) {
      recordFailure(runDir, run, e);
      emit({ type: 'run-ended', id: run.id, index, status: 'failed', reason: (e as Error).message, seconds: (performance.now() - t0) / 1000 });
      continue;
    }
    const tStudy = performance.now();
    let tStarted = 0;
    let tLastStep = 0;
    let finalEval = 0;
    let steps = 0;
    let peak = 0;
    const runControl = new TrainingControl();
    control.attach(runControl);
    let status: 'finished' | 'stopped' | 'failed';
    let reason: string | undefined;
    try {
      const result = await train(config, {
        control: runControl,
        onEvent: (e) => {
          const now = performance.now();
          if (e.type === 'started') tStarted = now;
          if (e.type === 'step') {
            tLastStep = now;
            steps += 1;
            peak = Math.max(peak, tf.memory().numBytes);
            finalEval = 0; // an evaluation counts as final only if no step follows it
          }
          if (e.type === 'eval') finalEval = e.seconds;
          emit({ type: 'run-event', id: run.id, event: e });
        },
      });
      status = result.status;
      reason = result.reason;
    } catch (e) {
      // Refused before the run started (bad data, a model that does not load): the folder says so.
      recordFailure(runDir, run, e);
      status = 'failed';
      reason = (e as Error).message;
    } finally {
      control.detach();
    }
    const tEnd = performance.now();
    if (tStarted) {
      const lastStep = tLastStep || tStarted;
      record.timing = {
        studySeconds: (tStudy - t0) / 1000,
        startupSeconds: (tStarted - tStudy) / 1000,
        trainSeconds: (lastStep - tStarted) / 1000,
        finalEvalSeconds: finalEval,
        teardownSeconds: Math.max(0, (tEnd - lastStep) / 1000 - finalEval),
        wallSeconds: (tEnd - t0) / 1000,
        steps,
        peakTensorBytes: peak,
      };
    }
    if (fs.existsSync(runDir)) writeFileAtomic(path.join(runDir, STUDY_RUN_FILE), JSON.stringify(mergeTiming(runDir, record), null, 2) + '\n');
    // The report grows run by run (it reads only the run folders), so a study can be watched while it runs.
    if (!control.stopped) tryWriteReport(study, outDir);
    emit({ type: 'run-ended', id: run.id, index, status, reason, seconds: (tEnd - t0) / 1000 });
  }
  const counts = countStates(study, outDir);
  const report = writeReport(study, outDir);
  const status = counts.finished === study.runs.length ? 'finished' : 'stopped';
  emit({ type: 'study-ended', status, counts, report });
  return { status, counts, report };
}

function tryWriteReport(study: Study, outDir: string): void {
  try {
    writeReport(study, outDir);
  } catch {
    // An interim report is a convenience; the final one (below) reports its own errors.
  }
}

/** The run's config with the study's substitutions: its folder, the data subset, a random-init model, resume. */
async function runConfigFor(run: StudyRun, outDir: string, runDir: string, resume: boolean): Promise<RunConfig> {
  const config: RunConfig = { ...run.config, output_dir: runDir };
  if (run.study.train_rows !== undefined) {
    const seed = run.study.data_seed ?? config.seed;
    config.train_file = (await trainSubset(config, run.study.train_rows, seed, path.join(outDir, 'data'))).file;
  }
  if (run.study.init_from_scratch) config.model = scratchModel(config.model, config.seed, path.join(outDir, 'models'));
  if (resume) config.resume_from_checkpoint = runDir;
  return config;
}

/** A run refused before it began still gets a folder whose events say why (as the extension does for a dead worker). */
function recordFailure(runDir: string, run: StudyRun, e: unknown): void {
  fs.mkdirSync(runDir, { recursive: true });
  const end: EndEvent = {
    v: 1,
    type: 'failed',
    step: 0,
    time: new Date().toISOString(),
    reason: (e as Error)?.message ?? String(e),
    code: e instanceof PeftStudioError ? e.code : 'INTERNAL',
    seconds: 0,
  };
  new EventLog(runDir).emit(end);
  writeFileAtomic(path.join(runDir, STUDY_RUN_FILE), JSON.stringify({ id: run.id, axes: run.axes, study: run.study, train_file: run.config.train_file, model: run.config.model }, null, 2) + '\n');
}

/** A resumed run adds its new timings to the ones its first part recorded. */
function mergeTiming(runDir: string, record: StudyRunRecord): StudyRunRecord {
  const file = path.join(runDir, STUDY_RUN_FILE);
  if (!record.timing || !fs.existsSync(file)) return record;
  try {
    const old = JSON.parse(fs.readFileSync(file, 'utf8')) as StudyRunRecord;
    if (!old.timing) return record;
    const t = record.timing;
    const o = old.timing;
    return {
      ...record,
      timing: {
        studySeconds: t.studySeconds + o.studySeconds,
        startupSeconds: t.startupSeconds + o.startupSeconds,
        trainSeconds: t.trainSeconds + o.trainSeconds,
        finalEvalSeconds: t.finalEvalSeconds,
        teardownSeconds: t.teardownSeconds + o.teardownSeconds,
        wallSeconds: t.wallSeconds + o.wallSeconds,
        steps: t.steps + o.steps,
        peakTensorBytes: Math.max(t.peakTensorBytes, o.peakTensorBytes),
      },
    };
  } catch {
    return record;
  }
}

export function countStates(study: Study, outDir: string): Record<RunState, number> {
  const counts: Record<RunState, number> = { pending: 0, finished: 0, stopped: 0, failed: 0, interrupted: 0 };
  for (const r of study.runs) counts[runState(path.join(outDir, RUNS_DIR, r.id))] += 1;
  return counts;
}

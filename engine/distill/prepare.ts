/**
 * Distillation's part of preparing a run: open the teacher, make the student (the teacher's own layers, or a
 * given model folder), check they share a tokenizer and labels, compute the teacher's outputs once (cached),
 * its evaluation score (the dashboard's reference line) and its speed, then let the teacher go.
 */
import * as path from 'node:path';
import { tidy } from '../backend/tf';
import { PeftStudioError } from '../errors';
import { maxTokens } from '../model/limits';
import type { EncoderModel } from '../model/model';
import type { ProblemType } from '../model/config';
import { loadTokenizer } from '../tokenizer';
import type { Tokenizer } from '../tokenizer/types';
import { disposeBatch, makeTensorBatch, type EncodedSet } from '../train/batches';
import type { RunConfig } from '../train/config';
import { evaluate } from '../train/evaluate';
import { cacheKey, teacherOutputs } from './cache';
import { pickLayers, type DistillSettings } from './config';
import { DistillObjective } from './objective';
import { buildStudentFromTeacher } from './student';
import { openTeacher, type Teacher } from './teacher';

export interface OpenDistill {
  config: RunConfig;
  settings: DistillSettings;
  teacher: Teacher;
  studentLayers?: number[];
  notices: string[];
}

export async function openDistill(config: RunConfig): Promise<OpenDistill> {
  const settings = config.distill!;
  const teacher = openTeacher(settings.teacher);
  const notices = [...teacher.notices];
  try {
    let studentLayers: number[] | undefined;
    let model = config.model;
    if (!settings.student) {
      const L = teacher.model.config.numHiddenLayers;
      const want = settings.student_layers ?? Math.max(1, Math.floor(L / 2));
      studentLayers = typeof want === 'number' ? pickLayers(want, L) : want;
      const built = await buildStudentFromTeacher(teacher, studentLayers, config.runs_dir);
      model = built.dir;
      notices.push(`student: teacher layers [${studentLayers.join(', ')}] of ${L}, embeddings and head copied (DistilBERT's initialisation)${built.reused ? ', reused from an earlier run' : ''}: ${built.dir}`);
    }
    return { config: { ...config, model }, settings, teacher, studentLayers, notices };
  } catch (e) {
    teacher.model.dispose();
    throw e;
  }
}

export interface DistillInfo {
  teacher: string;
  teacherMetrics?: Record<string, number>;
  teacherEvalLogits?: number[][];
  teacherParams: number;
  teacherMsPerExample: number;
  studentLayers?: number[];
  settings: DistillSettings;
  cache: string;
}

export async function finishDistill(
  d: OpenDistill,
  run: { student: EncoderModel; tokenizer: Tokenizer; train: EncodedSet; eval?: EncodedSet; evalHasLabels: boolean; problem: ProblemType; config: RunConfig; notices: string[] },
): Promise<{ objective: DistillObjective; info: DistillInfo }> {
  const { teacher, settings } = d;
  try {
    const tTok = await loadTokenizer(teacher.tokenizerDir, { modelMaxLength: maxTokens(teacher.model) });
    const probe = 'The quick brown fox jumps over the lazy dog, 123 times! Ünïcödé';
    const a = tTok.encode(probe).inputIds.join();
    const b = run.tokenizer.encode(probe).inputIds.join();
    if (tTok.vocabSize !== run.tokenizer.vocabSize || a !== b) {
      throw new PeftStudioError('BAD_INPUT', `distill: the teacher and the student tokenize differently (vocabularies of ${tTok.vocabSize} and ${run.tokenizer.vocabSize} tokens) — a student must share the teacher's tokenizer`);
    }
    const tc = teacher.model.config;
    const sc = run.student.config;
    if (tc.numLabels !== sc.numLabels) throw new PeftStudioError('BAD_INPUT', `distill: the teacher has ${tc.numLabels} labels, the student ${sc.numLabels}`);
    if (settings.alpha_cos > 0 && tc.hiddenSize !== sc.hiddenSize) {
      throw new PeftStudioError('BAD_INPUT', `distill: alpha_cos compares [CLS] hidden states, but the teacher's are ${tc.hiddenSize} wide and the student's ${sc.hiddenSize} — set alpha_cos to 0 for a narrower student`);
    }
    const teacherParams = teacher.model.numParameters((n) => teacher.model.specs.some((s) => s.name === n));
    const studentParams = run.student.numParameters((n) => run.student.specs.some((s) => s.name === n));
    if (studentParams > teacherParams) run.notices.push(`the student (${studentParams.toLocaleString('en-US')} parameters) is larger than the teacher (${teacherParams.toLocaleString('en-US')})`);
    const padId = run.tokenizer.padTokenId;
    const cacheDir = path.join(run.config.runs_dir, '.teacher-cache');
    const withCls = settings.alpha_cos > 0;
    const key = cacheKey({ teacher: teacher.identity, dataFile: run.config.train_file, maxLength: run.config.max_length, withCls, split: `train:${run.config.eval_file ? 'all' : `${run.config.eval_split}:${run.config.seed}`}` });
    const out = await teacherOutputs(teacher.model, run.train, { padId, problem: run.problem, withCls, key, cacheDir, maxMiB: settings.cache_max_mib });
    run.notices.push(out.source === 'disk' ? `teacher outputs for ${run.train.lengths.length} examples read from the cache ${out.file}` : `teacher outputs computed for ${run.train.lengths.length} examples${out.file ? ` and cached in ${out.file}` : ' (kept in memory only)'}`);
    let teacherMetrics: Record<string, number> | undefined;
    let teacherEvalLogits: number[][] | undefined;
    if (run.eval) {
      const r = await evaluate(teacher.model, run.eval, run.problem, padId, run.config.per_device_eval_batch_size);
      teacherEvalLogits = r.logits;
      if (run.evalHasLabels) teacherMetrics = r.metrics;
    }
    const teacherMsPerExample = await msPerExample(teacher.model, run.eval ?? run.train, padId, run.problem);
    return {
      objective: new DistillObjective(out, settings, run.problem),
      info: { teacher: teacher.label, teacherMetrics, teacherEvalLogits, teacherParams, teacherMsPerExample, studentLayers: d.studentLayers, settings, cache: out.file ?? '' },
    };
  } finally {
    teacher.model.dispose();
  }
}

/** Eval-mode forward time per example on up to 64 examples (median of 3 passes after a warm-up). */
export async function msPerExample(model: EncoderModel, set: EncodedSet, padId: number, problem: ProblemType): Promise<number> {
  const idx = [...set.lengths.keys()].slice(0, 64);
  if (!idx.length) return 0;
  const batch = makeTensorBatch(set, idx, padId, problem);
  const times: number[] = [];
  for (let rep = 0; rep < 4; rep++) {
    const t0 = performance.now();
    const z = tidy(() => model.forward(batch.inputs).logits!);
    await z.data();
    z.dispose();
    if (rep > 0) times.push(performance.now() - t0);
  }
  disposeBatch(batch);
  times.sort((x, y) => x - y);
  return times[1]! / idx.length;
}

/**
 * How far the student agrees with its teacher on the eval set: the fraction of examples with the same
 * predicted class (multi-label: the same label set); for regression, Pearson's r between their outputs.
 */
export function agreement(student: number[][], teacher: number[][], problem: ProblemType): number {
  if (problem === 'regression') {
    const n = student.length;
    const xs = student.map((r) => r[0]!);
    const ys = teacher.map((r) => r[0]!);
    const mx = xs.reduce((a, b) => a + b, 0) / n;
    const my = ys.reduce((a, b) => a + b, 0) / n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my);
      sxx += (xs[i]! - mx) ** 2;
      syy += (ys[i]! - my) ** 2;
    }
    return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
  }
  let same = 0;
  for (let i = 0; i < student.length; i++) {
    const s = student[i]!;
    const t = teacher[i]!;
    if (problem === 'multi_label_classification') same += s.every((z, l) => z > 0 === t[l]! > 0) ? 1 : 0;
    else same += argmax(s) === argmax(t) ? 1 : 0;
  }
  return student.length ? same / student.length : 0;
}

function argmax(a: number[]): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}


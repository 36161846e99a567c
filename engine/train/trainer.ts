/**
 * The training loop. Method-agnostic: a PeftMethod chooses the trainable tensors, the trainer computes
 * their gradients (and only theirs), clips, steps AdamW, evaluates, checkpoints and reports every event.
 *
 * Reproducible by construction: the data order of epoch e comes from (seed, e), each step's dropout from
 * (seed, step), so a run resumed from a checkpoint replays the uninterrupted run's losses exactly.
 */
import * as path from 'node:path';
import { tf } from '../backend/tf';
import { describeBackendBrief, initBackend } from '../backend/select';
import { describeModelSource, resolveModelSource } from '../api/resolve-model-source';
import { findEvalBeside } from '../data/eval-beside';
import { majorityShare } from '../data/majority';
import { loadDataset, makeBatches, splitDataset, deriveSeed, type BadRow, type Dataset, type Task } from '../data';
import { PeftStudioError } from '../errors';
import { isImprovement, metricNames, primaryMetric } from '../metrics';
import { readConfig, type ProblemType } from '../model/config';
import { loadModel } from '../model/load';
import type { EncoderModel } from '../model/model';
import { checkIdsFit, maxTokens } from '../model/limits';
import type { DistillObjective } from '../distill/objective';
import { agreement, finishDistill, msPerExample, openDistill, type DistillInfo, type OpenDistill } from '../distill/prepare';
import { loadAdapterInto } from '../peft/adapter-import';
import { createPeftMethod } from '../peft/registry';
import type { PeftMethod } from '../peft/types';
import type { EndEvent, RunEvent } from '../protocol/events';
import { loadTokenizer } from '../tokenizer';
import type { Tokenizer } from '../tokenizer/types';
import { disposeBatch, encodeExamples, makeTensorBatch, type EncodedSet } from './batches';
import { computeGradients, microBatchSize } from './step';
import { DivergenceMonitor } from './divergence';
import { CHECKPOINTS, checkpointName, listCheckpoints, loadCheckpoint, pruneCheckpoints, resolveCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import type { RunConfig } from './config';
import { TrainingControl } from './control';
import { evaluate, taskOf, type EvalResult } from './evaluate';
import { initCheckpointConfig, loadInitCheckpoint } from './export';
import { AdamW } from './optim/adamw';
import { clipGradNorm } from './optim/clip';
import { lrAt, resolveWarmupSteps } from './optim/schedule';
import { EventLog, prepareRunDir } from './run-dir';
import { writeFileAtomic } from '../io/atomic';

export interface TrainHooks {
  onEvent?: (e: RunEvent) => void;
  control?: TrainingControl;
}

export interface TrainResult {
  status: 'finished' | 'stopped' | 'failed';
  runDir: string;
  step: number;
  reason?: string;
  finalMetrics?: Record<string, number>;
  bestCheckpoint?: string;
  /** Loss of every step, in order (what the step events carried). */
  losses: number[];
}

/** Everything a run needs, loaded and checked before the first event is written. */
export interface PreparedRun {
  config: RunConfig;
  model: EncoderModel;
  tokenizer: Tokenizer;
  method: PeftMethod;
  problem: ProblemType;
  train: EncodedSet;
  eval?: EncodedSet;
  trainData: Dataset;
  evalData?: Dataset;
  /** Rows left out under on_bad_row 'skip', from the training file and the eval file. */
  badRows: BadRow[];
  notices: string[];
  /** The step's loss when it is not the task loss (distillation). */
  objective?: DistillObjective;
  distill?: DistillInfo;
}

const PROBLEM_OF: Record<Task, ProblemType> = {
  classification: 'single_label_classification',
  regression: 'regression',
  multi_label: 'multi_label_classification',
};

/** Loads data, model, tokenizer and PEFT method; every input problem surfaces here, before the run starts. */
export async function prepareRun(configIn: RunConfig): Promise<PreparedRun> {
  const notices: string[] = [];
  // Distillation: the teacher opens first, and the student it makes becomes the run's model.
  const distill = configIn.distill ? await openDistill(configIn) : undefined;
  try {
    return await prepareWith(distill ? distill.config : configIn, notices, distill);
  } catch (e) {
    distill?.teacher.model.dispose();
    throw e;
  }
}

async function prepareWith(config: RunConfig, notices: string[], distill?: OpenDistill): Promise<PreparedRun> {
  if (distill) notices.push(...distill.notices);
  // A run that starts from an earlier run's trained model takes that run's labels, as from a fine-tuned checkpoint.
  const modelConfig = config.init_checkpoint ? initCheckpointConfig(readConfig(config.model), config.init_checkpoint) : readConfig(config.model);
  // A distilled student takes its labels and task from the teacher.
  const labelConfig = distill ? distill.teacher.model.config : modelConfig;
  const isClassifier = distill !== undefined || modelConfig.architecture.endsWith('ForSequenceClassification');
  // A checkpoint that was already fine-tuned has meaningful label names; generic LABEL_i ones are not a map.
  const namedLabels = Object.values(labelConfig.id2label).some((l) => !/^LABEL_\d+$/.test(l));
  const columns = { text: config.text_column, textPair: config.text_pair_column, label: config.label_column };
  const dataOpts = {
    columns,
    onBadRow: config.on_bad_row,
    labelMap: isClassifier && namedLabels ? labelConfig.label2id : undefined,
    numLabels: isClassifier ? labelConfig.numLabels : undefined,
    task: distill ? taskOf(distill.teacher.problem) : labelConfig.problemType ? taskOf(labelConfig.problemType) : undefined,
    // Distillation on raw text: rows need no label when the task loss has no weight.
    ...(distill && distill.settings.alpha_task === 0 ? { requireLabels: false as const } : {}),
  };
  const trainAll = (await loadDataset(config.train_file, dataOpts as Parameters<typeof loadDataset>[1])) as Dataset;
  let trainData: Dataset = trainAll;
  let evalData: Dataset | undefined;
  if (config.eval_file) {
    evalData = (await loadDataset(config.eval_file, { ...dataOpts, task: trainAll.task, labelMap: trainAll.label2id ?? dataOpts.labelMap } as Parameters<typeof loadDataset>[1])) as Dataset;
    if (findEvalBeside(config.train_file, config.label_column)?.file === config.eval_file) {
      notices.push(`evaluating on ${path.basename(config.eval_file)} (${evalData.examples.length} examples), the split beside ${path.basename(config.train_file)}; --eval-split R holds out part of the training data instead`);
    }
  } else if (config.eval_split > 0 && trainAll.examples.length >= 2) {
    const split = splitDataset(trainAll, { evalFraction: config.eval_split, seed: config.seed, stratify: trainAll.task === 'classification' });
    trainData = split.train;
    evalData = split.eval;
    notices.push(`no eval_file: held out ${evalData.examples.length} of ${trainAll.examples.length} training examples (seed ${config.seed})`);
  }
  for (const d of [trainAll, evalData]) {
    if (d?.badRows.length) notices.push(`${d.file}: skipped ${d.badRows.length} bad rows (first: line ${d.badRows[0]!.line}: ${d.badRows[0]!.reason})`);
  }
  const numLabels = distill ? labelConfig.numLabels : Math.max(trainAll.numLabels, evalData?.numLabels ?? 0);
  const known = metricNames(trainAll.task, numLabels);
  if (config.metric_for_best_model && !known.includes(config.metric_for_best_model)) {
    throw new PeftStudioError('BAD_INPUT', `metric_for_best_model "${config.metric_for_best_model}" is not reported for ${trainAll.task} (choose one of: ${known.join(', ')})`);
  }
  const id2label = distill ? labelConfig.id2label : (trainAll.id2label ?? (isClassifier ? modelConfig.id2label : undefined));
  const { model, notices: loadNotices } = loadModel(config.model, {
    head: 'sequence-classification',
    numLabels,
    id2label: id2label && Object.keys(id2label).length === numLabels ? id2label : undefined,
    problemType: distill ? distill.teacher.problem : PROBLEM_OF[trainAll.task],
    seed: config.seed,
  });
  const problem: ProblemType = distill ? distill.teacher.problem : PROBLEM_OF[trainAll.task];
  try {
    if (config.init_checkpoint) {
      loadInitCheckpoint(model, config.init_checkpoint);
      notices.push(`starting from the trained model of ${describeModelSource(resolveModelSource(config.init_checkpoint))}`);
    } else notices.push(...loadNotices);
    const tokenizer = await loadTokenizer(config.model, { modelMaxLength: maxTokens(model) });
    const maxLength = Math.min(config.max_length, maxTokens(model));
    if (maxLength < config.max_length) notices.push(`max_length ${config.max_length} exceeds the model's ${maxLength} positions; using ${maxLength}`);
    const train = encodeExamples(tokenizer, trainData.examples, maxLength);
    const evalSet = evalData ? encodeExamples(tokenizer, evalData.examples, maxLength) : undefined;
    checkIdsFit(model, train.encodings, tokenizer, config.model, 'training example');
    if (evalSet) checkIdsFit(model, evalSet.encodings, tokenizer, config.model, 'evaluation example');
    if (train.truncated) notices.push(`${train.truncated} training examples longer than ${maxLength} tokens were truncated`);
    if (!train.encodings.length) throw new PeftStudioError('BAD_DATA', `${config.train_file}: no training examples`);
    const method = createPeftMethod(config.method);
    method.apply(model, { seed: config.seed, tokenizer, notices, maxLength });
    if (config.adapter) notices.push(...loadAdapterInto(method, config.adapter).notices);
    // Counted from the files: the halves of a held-out split carry no bad rows of their own.
    const badRows = [...trainAll.badRows, ...(config.eval_file ? evalData!.badRows : [])];
    const d = distill
      ? await finishDistill(distill, { student: model, tokenizer, train, eval: evalSet, evalHasLabels: evalData?.hasLabels ?? false, problem, config, notices })
      : undefined;
    return { config, model, tokenizer, method, problem, train, eval: evalSet, trainData, evalData, badRows, notices, objective: d?.objective, distill: d?.info };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export async function train(config: RunConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const backend = await initBackend({ backend: config.backend });
  const prep = await prepareRun(config);
  config = prep.config; // what the run really uses (a distilled student replaces the model)
  const { model, method, problem } = prep;
  const vars = method.trainable();
  const padId = prep.tokenizer.padTokenId;
  const losses: number[] = [];
  const t0 = performance.now();

  const micro = config.per_device_train_batch_size;
  const accum = config.gradient_accumulation_steps;
  const batchesPerEpoch = Math.ceil(prep.train.lengths.length / micro);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / accum);
  const totalSteps = config.max_steps > 0 ? config.max_steps : Math.ceil(config.num_train_epochs * stepsPerEpoch);
  const warmupSteps = resolveWarmupSteps({ totalSteps, warmupSteps: config.warmup_steps, warmupRatio: config.warmup_ratio });
  const schedule = { type: config.lr_scheduler_type, baseLr: config.learning_rate, warmupSteps, totalSteps };
  const optimizer = new AdamW(vars, {
    lr: config.learning_rate,
    betas: [config.adam_beta1, config.adam_beta2],
    eps: config.adam_epsilon,
    weightDecay: config.weight_decay,
  });
  const primary = config.metric_for_best_model ?? primaryMetric(taskOf(problem));

  let step = 0;
  let epoch = 0;
  let batchInEpoch = 0;
  let best: CheckpointState['bestMetric'];
  let resumedFrom: { step: number; path: string } | undefined;
  let runDir: string;
  let runId: string;
  try {
    if (config.resume_from_checkpoint) {
      const ckpt = loadCheckpoint(resolveCheckpoint(config.resume_from_checkpoint));
      // The method checks every name and shape, the optimizer every moment, before either changes anything.
      method.loadTensors(ckpt.tensors, ckpt.dir, { dryRun: true });
      optimizer.loadStateDict(ckpt.optimizer);
      method.loadTensors(ckpt.tensors, ckpt.dir);
      ({ step, epoch, batchInEpoch } = ckpt.state);
      best = ckpt.state.bestMetric;
      resumedFrom = { step, path: ckpt.dir };
    }
    // Only now, with every input accepted, does the run folder appear.
    ({ runDir, runId } = prepareRunDir(config));
  } catch (e) {
    optimizer.dispose();
    model.dispose();
    throw e;
  }
  const log = new EventLog(runDir, hooks.onEvent);
  const control = hooks.control ?? new TrainingControl();

  // Said up front because a split step is slower per step than an unsplit one would be (when it fits).
  const longest = prep.train.lengths.reduce((a, b) => Math.max(a, b), 1);
  const passes = microBatchSize(model, vars, micro, longest, config.per_device_train_micro_batch_size);
  if (passes < micro) prep.notices.push(`batches of ${micro} × ${longest} tokens run as passes of ${passes} examples (per_device_train_micro_batch_size: ${config.per_device_train_micro_batch_size}); their gradients are summed, so each step is still the whole batch's`);
  const describe = method.describe();
  log.emit({
    v: 1,
    type: 'started',
    runId,
    time: new Date().toISOString(),
    config: { ...config, output_dir: runDir } as unknown as Record<string, unknown>,
    method: method.name,
    trainable: { count: describe.trainable, total: describe.total, percent: describe.percent, tensors: describe.tensors },
    backend: { active: backend.active, attempts: backend.attempts },
    data: {
      train: prep.train.lengths.length,
      eval: prep.eval?.lengths.length ?? 0,
      badRows: prep.badRows.length,
      evalMajority: majorityShare(prep.evalData),
      task: taskOf(problem),
      numLabels: model.config.numLabels,
      id2label: Object.fromEntries(Object.entries(model.config.id2label).map(([k, v]) => [String(k), v])),
    },
    totalSteps,
    stepsPerEpoch,
    resumedFrom,
    heatmap: (({ rows, columns, measure }) => ({ rows, kinds: columns, measure }))(method.changeLayout()),
    notices: [describeBackendBrief(backend), ...prep.notices],
    ...(prep.distill
      ? {
          distill: {
            teacher: prep.distill.teacher,
            teacherMetrics: prep.distill.teacherMetrics,
            studentLayers: prep.distill.studentLayers,
            temperature: prep.distill.settings.temperature,
            alpha_kd: prep.distill.settings.alpha_kd,
            alpha_task: prep.distill.settings.alpha_task,
            alpha_cos: prep.distill.settings.alpha_cos,
          },
        }
      : {}),
  });
  control.onStateChange((state) => log.emit({ v: 1, type: state, step, time: new Date().toISOString() }));

  const divergence = new DivergenceMonitor();
  let lastEval: EvalResult | undefined;
  let lastEvalStep = -1;
  let lastSaved: string | undefined;
  let lastSavedStep = -1;

  /** `rewrite`: save again at a step already saved, so the checkpoint's state and event carry a new best. */
  const save = async (rewrite = false): Promise<string> => {
    if (lastSavedStep === step && lastSaved && !rewrite) return lastSaved;
    const state: CheckpointState = { format: 1, step, epoch, batchInEpoch, method: method.name, bestMetric: best, time: new Date().toISOString() };
    const dir = saveCheckpoint(runDir, await method.exportTensors(), await optimizer.stateDict(), state);
    lastSaved = dir;
    lastSavedStep = step;
    pruneCheckpoints(runDir, config.save_total_limit, best?.checkpoint);
    log.emit({ v: 1, type: 'checkpoint', step, path: dir, isBest: best?.checkpoint === dir });
    return dir;
  };

  const runEval = async (): Promise<void> => {
    if (!prep.eval || lastEvalStep === step) return;
    lastEval = await evaluate(model, prep.eval, problem, padId, config.per_device_eval_batch_size);
    if (prep.distill?.teacherEvalLogits) lastEval.metrics.teacher_agreement = agreement(lastEval.logits, prep.distill.teacherEvalLogits, problem);
    lastEvalStep = step;
    const value = lastEval.metrics[primary];
    const isBest = value !== undefined && isImprovement(primary, value, best?.value);
    log.emit({ v: 1, type: 'eval', step, epoch: step / stepsPerEpoch, loss: lastEval.loss, metrics: lastEval.metrics, primary, isBest, examples: lastEval.examples, seconds: lastEval.seconds });
    if (isBest) {
      best = { name: primary, value: value!, step, checkpoint: path.join(runDir, CHECKPOINTS, checkpointName(step)) };
      // A save_steps checkpoint may already exist for this step (an epoch's last step, the run's last step):
      // it was written before this evaluation, without the best mark, so write it again.
      await save(lastSavedStep === step);
    }
  };

  const end = (type: EndEvent['type'], reason?: string, code?: string): TrainResult => {
    const e: EndEvent = {
      v: 1,
      type,
      step,
      time: new Date().toISOString(),
      reason,
      code,
      finalMetrics: lastEval?.metrics,
      bestCheckpoint: best?.checkpoint,
      seconds: (performance.now() - t0) / 1000,
    };
    try {
      log.emit(e);
    } catch {
      log.notifyOnly(e); // the disk refused even this: the listener still hears how the run ended
    }
    optimizer.dispose();
    model.dispose();
    return { status: type, runDir, step, reason, finalMetrics: lastEval?.metrics, bestCheckpoint: best?.checkpoint, losses };
  };

  try {
    while (step < totalSteps) {
      const batches = makeBatches(prep.train.lengths, { batchSize: micro, seed: config.seed, epoch, bucketing: config.group_by_length });
      while (batchInEpoch < batches.length && step < totalSteps) {
        // One macrotask turn per step, so signal handlers, stdin lines and IPC messages can deliver a
        // pause/stop: on wasm and cpu every await below resolves as a microtask and would starve them.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const stop = await control.checkpoint();
        if (stop) {
          await save();
          return end('stopped', stop);
        }
        const group = batches.slice(batchInEpoch, batchInEpoch + accum);
        const tStep = performance.now();
        const batchesOf = group.map((idx) => makeTensorBatch(prep.train, idx, padId, problem));
        const { loss, grads, tokens } = await computeGradients(model, batchesOf, prep.objective ?? problem, vars, {
          training: true,
          seed: deriveSeed(config.seed, step),
          microBatchSize: config.per_device_train_micro_batch_size,
        });
        batchesOf.forEach(disposeBatch);
        if (!Number.isFinite(loss)) {
          tf.dispose([...grads.values()]);
          const good = listCheckpoints(runDir).pop();
          return end('failed', `loss became ${loss} at step ${step + 1}; training stopped${good ? `, last good checkpoint: ${good}` : ' (no checkpoint had been written yet)'} — try a lower learning_rate or max_grad_norm`, 'TRAINING');
        }
        const { totalNorm, grads: clipped } = await clipGradNorm(grads, config.max_grad_norm);
        if (!Number.isFinite(totalNorm)) {
          // A finite loss can still have an overflowing gradient; applying it would poison every bias.
          tf.dispose([...grads.values(), ...clipped.values()]);
          const good = listCheckpoints(runDir).pop();
          return end('failed', `gradient norm became ${totalNorm} at step ${step + 1}; training stopped before the update${good ? `, last good checkpoint: ${good}` : ''} — try a lower learning_rate or max_grad_norm`, 'TRAINING');
        }
        const lr = lrAt(step, schedule);
        optimizer.step(clipped, lr);
        tf.dispose([...grads.values(), ...clipped.values()]);
        step += 1;
        batchInEpoch += group.length;
        losses.push(loss);
        const seconds = (performance.now() - tStep) / 1000;
        const components = prep.objective?.takeComponents();
        log.emit({ v: 1, type: 'step', step, epoch: epoch + batchInEpoch / batches.length, loss, lr, gradNorm: totalNorm, tokensPerSec: tokens / seconds, time: Date.now(), ...(components ? { components } : {}) });
        for (const w of divergence.observe(step, loss, totalNorm)) log.emit({ v: 1, type: 'log', level: 'warn', message: w.message, time: new Date().toISOString() });
        if (step % config.bias_change_steps === 0) log.emit(await method.changeReport(step, config.bias_change_top_k));
        if (config.eval_strategy === 'steps' && step % config.eval_steps === 0) await runEval();
        if (config.save_steps > 0 && step % config.save_steps === 0) await save();
      }
      if (batchInEpoch >= batches.length) {
        epoch += 1;
        batchInEpoch = 0;
        if (config.eval_strategy === 'epoch') await runEval();
      }
    }
    if (config.eval_strategy !== 'no') await runEval();
    if (step % config.bias_change_steps !== 0) log.emit(await method.changeReport(step, config.bias_change_top_k));
    await save();
    if (prep.distill) await distillSummary(prep, runDir, lastEval, padId, (message) => log.emit({ v: 1, type: 'log', level: 'info', message, time: new Date().toISOString() }));
    return end('finished');
  } catch (e) {
    // Only PeftStudioError codes go out (a raw Node error's code is an errno name such as ENOTDIR).
    return end('failed', (e as Error)?.message ?? String(e), e instanceof PeftStudioError ? e.code : 'INTERNAL');
  }
}

/**
 * The table DistilBERT's paper reports, teacher vs student: parameters, size on disk (float32), measured
 * forward time per example, and the eval metric, with their ratios. Written to `distill.json` and logged.
 */
async function distillSummary(prep: PreparedRun, runDir: string, lastEval: EvalResult | undefined, padId: number, say: (m: string) => void): Promise<void> {
  const d = prep.distill!;
  const own = new Set(prep.model.specs.map((s) => s.name));
  const studentParams = prep.model.numParameters((n) => own.has(n));
  const studentMs = await msPerExample(prep.model, prep.eval ?? prep.train, padId, prep.problem);
  const primary = prep.config.metric_for_best_model ?? primaryMetric(taskOf(prep.problem));
  const t = d.teacherMetrics?.[primary];
  const s = lastEval?.metrics[primary];
  const summary = {
    teacher: { label: d.teacher, parameters: d.teacherParams, bytes: d.teacherParams * 4, msPerExample: d.teacherMsPerExample, [primary]: t },
    student: { parameters: studentParams, bytes: studentParams * 4, msPerExample: studentMs, [primary]: s, teacher_agreement: lastEval?.metrics.teacher_agreement, layers: d.studentLayers },
    ratios: {
      parameters: studentParams / d.teacherParams,
      speedup: d.teacherMsPerExample > 0 && studentMs > 0 ? d.teacherMsPerExample / studentMs : undefined,
      [`${primary}_retained`]: t !== undefined && s !== undefined && t !== 0 ? s / t : undefined,
    },
  };
  writeFileAtomic(path.join(runDir, 'distill.json'), JSON.stringify(summary, null, 2) + '\n');
  const f = (x: number | undefined, digits = 4) => (x === undefined ? '—' : x.toFixed(digits));
  const mib = (n: number) => `${((n * 4) / 2 ** 20).toFixed(1)} MiB`;
  say(
    [
      `distillation: teacher vs student`,
      `  parameters     ${d.teacherParams.toLocaleString('en-US')} → ${studentParams.toLocaleString('en-US')} (${(100 * summary.ratios.parameters).toFixed(1)}%)`,
      `  size (float32) ${mib(d.teacherParams)} → ${mib(studentParams)}`,
      `  ms / example   ${f(d.teacherMsPerExample, 3)} → ${f(studentMs, 3)} (${summary.ratios.speedup ? `${summary.ratios.speedup.toFixed(2)}× faster` : '—'})`,
      `  ${primary.padEnd(14)} ${f(t)} → ${f(s)}${t !== undefined && s !== undefined ? ` (${(100 * (s / t)).toFixed(1)}% of the teacher's)` : ''}`,
      lastEval?.metrics.teacher_agreement !== undefined ? `  agreement with the teacher on eval: ${f(lastEval.metrics.teacher_agreement)}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

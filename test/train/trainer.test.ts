/**
 * A short real training run and the event stream it leaves: every line of events.jsonl decodes, events come
 * in the documented order and cadence, bias-change summaries agree with the saved checkpoint, and a step's
 * reported loss is the loss of that step's batch (recomputed here with dropout off). Also: the toy task is
 * learned (loss falls), and CSV / JSONL files train as TSV does.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { makeBatches } from '../../engine/data';
import { readSafetensors } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import { encodeEvent, type RunEvent, type StartedEvent } from '../../engine/protocol/events';
import { loadCheckpoint } from '../../engine/train/checkpoint';
import { resolveRunConfig, type RunConfig } from '../../engine/train/config';
import { train, type TrainResult } from '../../engine/train/trainer';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import {
  makeRows, makeTinyModel, ofType, readEventLines, readVocab, removeTempDirs, tempDir, writeCsv, writeJsonl, writeTsv, type Row,
} from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

const BATCH = 4;
const STEPS = 13;

describe('a training run and its events', () => {
  let gen: GeneratedModel;
  let rows: Row[];
  let config: RunConfig;
  let result: TrainResult;
  const heard: RunEvent[] = [];
  let events: RunEvent[];
  let started: StartedEvent;

  before(async () => {
    gen = makeTinyModel({ dropout: false, seed: 21 });
    const dir = tempDir();
    rows = makeRows(40, 3);
    const trainFile = writeTsv(path.join(dir, 'train.tsv'), rows);
    const evalFile = writeTsv(path.join(dir, 'eval.tsv'), makeRows(16, 4));
    config = resolveRunConfig({
      model: gen.dir, train_file: trainFile, eval_file: evalFile, output_dir: path.join(dir, 'run'),
      max_steps: STEPS, per_device_train_batch_size: BATCH, learning_rate: 1e-2,
      eval_strategy: 'steps', eval_steps: 4, bias_change_steps: 3, bias_change_top_k: 3, save_steps: 5, save_total_limit: 0,
    });
    result = await train(config, { onEvent: (e) => heard.push(e) });
    const read = readEventLines(result.runDir);
    assert.deepEqual(read.bad, [], 'events.jsonl has lines that do not decode');
    events = read.events;
    started = events[0] as StartedEvent;
  });

  it('finishes, and events.jsonl holds exactly what the listener heard', () => {
    assert.equal(result.status, 'finished', result.reason);
    assert.equal(result.step, STEPS);
    assert.equal(events.length, heard.length);
    assert.deepEqual(events.map((e) => encodeEvent(e)), heard.map((e) => encodeEvent(e)));
    const saved = JSON.parse(fs.readFileSync(path.join(result.runDir, 'config.json'), 'utf8'));
    assert.equal(saved.learning_rate, 1e-2);
    assert.equal(saved.output_dir, result.runDir);
  });

  it('started comes first and describes the run; finished comes last', () => {
    assert.equal(started.type, 'started');
    assert.equal(started.totalSteps, STEPS);
    assert.equal(started.stepsPerEpoch, 10);
    // evalMajority: the eval file's labels alternate 0, 1, so the majority class is half of it.
    assert.deepEqual(started.data, { train: 40, eval: 16, badRows: 0, evalMajority: 0.5, task: 'classification', numLabels: 2, id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } });
    assert.deepEqual(started.heatmap.rows, ['embeddings', 'layer.0', 'layer.1', 'pooler', 'classifier']);
    assert.equal(started.resumedFrom, undefined);
    // BitFit 'all' + head on BERT: every bias in the checkpoint, plus classifier.weight.
    const want = [...gen.tensors.keys()].filter((n) => n.endsWith('.bias') || n === 'classifier.weight').sort();
    assert.deepEqual(started.trainable.tensors.map((t) => t.name).sort(), want);
    assert.equal(started.trainable.count, want.reduce((a, n) => a + gen.tensors.get(n)!.data.length, 0));
    assert.equal(ofType(events, 'started').length, 1);

    const last = events.at(-1)!;
    assert.equal(last.type, 'finished');
    assert.equal(ofType(events, 'finished').length + ofType(events, 'failed').length + ofType(events, 'stopped').length, 1);
    if (last.type !== 'finished') return;
    assert.equal(last.step, STEPS);
    const lastEval = ofType(events, 'eval').at(-1)!;
    assert.deepEqual(last.finalMetrics, lastEval.metrics);
  });

  it('step events run 1..N in order, with their epoch, lr schedule and loss', () => {
    const steps = ofType(events, 'step');
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: STEPS }, (_, i) => i + 1));
    assert.deepEqual(steps.map((s) => s.loss), result.losses);
    for (const s of steps) {
      assert.ok(Math.abs(s.epoch - s.step / 10) < 1e-12, `step ${s.step}: epoch ${s.epoch}`);
      // HF's linear schedule, no warmup: lr of the update made in step s is base × (N − (s−1)) / N.
      assert.ok(Math.abs(s.lr - (1e-2 * (STEPS - (s.step - 1))) / STEPS) < 1e-15, `step ${s.step}: lr ${s.lr}`);
      assert.ok(Number.isFinite(s.gradNorm) && s.gradNorm > 0 && s.tokensPerSec > 0);
    }
    // Every event between two steps belongs to the earlier one (evals, summaries, checkpoints).
    let current = 0;
    for (const e of events.slice(1, -1)) {
      if (e.type === 'step') current = e.step;
      else assert.equal((e as { step: number }).step, current, `${e.type} event out of place`);
    }
  });

  it('eval events come every eval_steps and at the end, with metrics', () => {
    const evals = ofType(events, 'eval');
    assert.deepEqual(evals.map((e) => e.step), [4, 8, 12, 13]);
    for (const e of evals) {
      assert.equal(e.examples, 16);
      assert.equal(e.primary, 'accuracy');
      for (const k of ['accuracy', 'macro_f1', 'mcc']) assert.ok(typeof e.metrics[k] === 'number' && Number.isFinite(e.metrics[k]), k);
      assert.ok(e.metrics.accuracy! >= 0 && e.metrics.accuracy! <= 1);
      assert.ok(Number.isFinite(e.loss) && e.loss > 0);
    }
    // isBest marks strict improvements of the primary metric.
    let best = -Infinity;
    for (const e of evals) {
      assert.equal(e.isBest, e.metrics.accuracy! > best, `eval @ ${e.step}`);
      best = Math.max(best, e.metrics.accuracy!);
    }
  });

  it('checkpoints: every save_steps, at the best eval, and at the end; the last one holds the final state', () => {
    const ckpts = ofType(events, 'checkpoint');
    const steps = ckpts.map((c) => c.step);
    for (const s of [5, 10, STEPS]) assert.ok(steps.includes(s), `no checkpoint at step ${s}: ${steps}`);
    for (const e of ofType(events, 'eval').filter((x) => x.isBest)) {
      const c = ckpts.find((x) => x.step === e.step);
      assert.ok(c?.isBest, `best eval at ${e.step} has no best checkpoint`);
    }
    for (const c of ckpts) assert.ok(fs.existsSync(c.path), `${c.path} missing (save_total_limit 0 keeps all)`);
    const final = loadCheckpoint(ckpts.at(-1)!.path);
    assert.equal(final.state.step, STEPS);
    assert.equal(final.optimizer.step, STEPS);
    const end = events.at(-1)!;
    assert.equal(end.type === 'finished' && end.bestCheckpoint, ckpts.filter((c) => c.isBest).at(-1)!.path);
  });

  it('change (what moved) every bias_change_steps and at the end, one cell per trained bias, laid out as the heatmap says', () => {
    const changes = ofType(events, 'change');
    assert.deepEqual(changes.map((c) => c.step), [3, 6, 9, 12, 13]);
    const biases = started.trainable.tensors.map((t) => t.name).filter((n) => n.endsWith('.bias')).sort();
    for (const c of changes) {
      assert.deepEqual(c.cells.map((x) => x.name).sort(), biases);
      for (const cell of c.cells) {
        assert.ok(started.heatmap.rows.includes(cell.row), `${cell.name}: row ${cell.row}`);
        const layer = /layer\.(\d+)\./.exec(cell.name);
        if (layer) {
          assert.equal(cell.row, `layer.${layer[1]}`);
          assert.ok(started.heatmap.kinds.includes(cell.kind), `${cell.name}: kind ${cell.kind}`);
        }
        assert.ok(cell.top.length === Math.min(3, gen.tensors.get(cell.name)!.data.length));
      }
    }
    const row = (n: string) => changes[0]!.cells.find((c) => c.name === n)!;
    assert.equal(row('bert.embeddings.LayerNorm.bias').row, 'embeddings');
    assert.equal(row('bert.pooler.dense.bias').row, 'pooler');
    assert.equal(row('classifier.bias').row, 'classifier');
    assert.equal(row('bert.encoder.layer.1.attention.self.query.bias').kind, 'query');
  });

  it("the final summary's numbers are ‖b − b₀‖ recomputed from the last checkpoint and the model's biases", () => {
    const final = ofType(events, 'change').at(-1)!;
    const ckpt = ofType(events, 'checkpoint').at(-1)!;
    const saved = readSafetensors(path.join(ckpt.path, 'trainable.safetensors')).tensors;
    for (const cell of final.cells) {
      const b = saved.get(cell.name)!.data as Float32Array;
      const b0 = gen.tensors.get(cell.name)!.data;
      let l1 = 0;
      let l2 = 0;
      let base = 0;
      let maxAbs = 0;
      for (let i = 0; i < b.length; i++) {
        const d = b[i]! - b0[i]!;
        l1 += Math.abs(d);
        l2 += d * d;
        base += b0[i]! * b0[i]!;
        maxAbs = Math.max(maxAbs, Math.abs(d));
      }
      assert.ok(l1 > 0, `${cell.name} did not move`);
      assert.equal(cell.value, cell.meanAbs, "a BitFit cell's value is its mean |Δb|");
      assert.ok(Math.abs(cell.meanAbs! - l1 / b.length) <= 1e-12 * (l1 / b.length), `${cell.name}: meanAbs ${cell.meanAbs} vs ${l1 / b.length}`);
      assert.ok(Math.abs(cell.relative! - Math.sqrt(l2 / base)) <= 1e-9 * Math.sqrt(l2 / base), `${cell.name}: relative`);
      assert.equal(Math.abs(cell.top[0]!.delta), maxAbs);
      for (const t of cell.top) assert.equal(t.delta, b[t.index]! - b0[t.index]!);
    }
  });

  it("step 1's loss is the loss of epoch 0's first batch, recomputed independently", async () => {
    // Tokenize by hand: every word of the toy sentences is one vocab entry.
    const vocab = readVocab(gen.dir);
    const ids = rows.map((r) => [vocab.get('[CLS]')!, ...r.text.split(' ').map((w) => vocab.get(w)!), vocab.get('[SEP]')!]);
    assert.ok(ids.every((x) => x.every((id) => id !== undefined)));
    const batches = makeBatches(ids.map((x) => x.length), { batchSize: BATCH, seed: config.seed, epoch: 0, bucketing: true });
    const { model } = loadModel(gen.dir);
    const lossOf = async (idx: number[]): Promise<number> => {
      const T = Math.max(...idx.map((i) => ids[i]!.length));
      const pad = (x: number[]) => [...x, ...new Array<number>(T - x.length).fill(0)];
      const logits = tf.tidy(() =>
        model.forward({
          inputIds: tf.tensor2d(idx.map((i) => pad(ids[i]!)), undefined, 'int32'),
          attentionMask: tf.tensor2d(idx.map((i) => pad(ids[i]!.map(() => 1))), undefined, 'int32'),
          tokenTypeIds: tf.zeros([idx.length, T], 'int32'),
        }).logits!,
      );
      const z = (await logits.array()) as number[][];
      logits.dispose();
      // Cross-entropy in float64: −log softmax(z)[label], averaged over the batch.
      let sum = 0;
      idx.forEach((i, r) => {
        const m = Math.max(...z[r]!);
        const lse = m + Math.log(z[r]!.reduce((a, v) => a + Math.exp(v - m), 0));
        sum += lse - z[r]![rows[i]!.label]!;
      });
      return sum / idx.length;
    };
    const first = await lossOf(batches[0]!);
    const second = await lossOf(batches[1]!);
    model.dispose();
    assert.ok(Math.abs(result.losses[0]! - first) < 1e-5, `step 1 loss ${result.losses[0]} vs recomputed ${first}`);
    // The check can tell batches apart: the run's first batch is not interchangeable with another.
    assert.ok(Math.abs(second - first) > 1e-4, `batches 0 and 1 give the same loss (${first}); the check proves nothing`);
  });
});

describe('best checkpoint when save_steps lands on an evaluated step', () => {
  it("the epoch's last step is saved by save_steps before its evaluation: the best mark still reaches the checkpoint", async () => {
    const gen = makeTinyModel({ seed: 8 });
    const dir = tempDir();
    const events: RunEvent[] = [];
    // 24 examples, batch 4: 6 steps per epoch, so step 6 is both a save_steps step and the end of epoch 1.
    const r = await train(
      resolveRunConfig({
        model: gen.dir, train_file: writeTsv(path.join(dir, 'train.tsv'), makeRows(24, 12)), eval_file: writeTsv(path.join(dir, 'eval.tsv'), makeRows(8, 13)),
        output_dir: path.join(dir, 'run'), max_steps: 8, per_device_train_batch_size: 4, eval_strategy: 'epoch', save_steps: 6, save_total_limit: 0,
      }),
      { onEvent: (e) => events.push(e) },
    );
    assert.equal(r.status, 'finished', r.reason);
    const first = ofType(events, 'eval')[0]!;
    assert.deepEqual([first.step, first.isBest], [6, true]); // the first evaluation is always the best so far
    const marked = ofType(events, 'checkpoint').filter((c) => c.step === 6 && c.isBest);
    assert.equal(marked.length, 1, 'no checkpoint event marks step 6 as the best');
    const state = loadCheckpoint(marked[0]!.path).state;
    assert.equal(state.bestMetric?.step, 6, 'state.json of the best checkpoint does not record it as best');
    assert.equal(state.step, 6);
    const end = events.at(-1)!;
    assert.equal(end.type === 'finished' && end.bestCheckpoint, marked[0]!.path);
  });
});

describe('learning', () => {
  it('the toy task is learned: training loss falls and eval accuracy rises above chance', async () => {
    const gen = makeTinyModel({ dropout: false });
    const dir = tempDir();
    const events: RunEvent[] = [];
    const r = await train(
      resolveRunConfig({
        model: gen.dir, train_file: writeTsv(path.join(dir, 'train.tsv'), makeRows(64)), eval_file: writeTsv(path.join(dir, 'eval.tsv'), makeRows(32, 99)),
        output_dir: path.join(dir, 'run'), max_steps: 40, per_device_train_batch_size: 8, learning_rate: 1e-2, lr_scheduler_type: 'constant',
        eval_strategy: 'steps', eval_steps: 20, save_steps: 0,
      }),
      { onEvent: (e) => events.push(e) },
    );
    assert.equal(r.status, 'finished', r.reason);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const [first, last] = [mean(r.losses.slice(0, 8)), mean(r.losses.slice(-8))];
    assert.ok(last < first - 0.15, `train loss ${first} → ${last}`);
    const evals = ofType(events, 'eval');
    assert.ok(evals.at(-1)!.metrics.accuracy! >= 0.65, `eval accuracy ${evals.map((e) => e.metrics.accuracy).join(' → ')}`);
  });
});

describe('other data formats', () => {
  for (const format of ['csv', 'jsonl'] as const) {
    it(`trains from ${format}`, async () => {
      const gen = makeTinyModel({ seed: 2 });
      const dir = tempDir();
      const rows = makeRows(12, 5);
      const file = format === 'csv' ? writeCsv(path.join(dir, 'train.csv'), rows) : writeJsonl(path.join(dir, 'train.jsonl'), rows);
      const events: RunEvent[] = [];
      const r = await train(
        resolveRunConfig({ model: gen.dir, train_file: file, output_dir: path.join(dir, 'run'), max_steps: 3, per_device_train_batch_size: 4, eval_split: 0.25 }),
        { onEvent: (e) => events.push(e) },
      );
      assert.equal(r.status, 'finished', r.reason);
      const s = events[0] as StartedEvent;
      assert.deepEqual([s.data.train, s.data.eval], [9, 3]);
      assert.ok(s.notices.some((n) => n.includes('held out 3 of 12')), s.notices.join('\n'));
      assert.equal(ofType(events, 'step').length, 3);
    });
  }
});

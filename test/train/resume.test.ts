/**
 * Resuming replays the uninterrupted run exactly: with dropout on, length bucketing on and two epoch
 * boundaries crossed, the losses of (stopped run + resumed run) are bit-identical to one uninterrupted run,
 * and so are the final trained tensors and optimizer moments. Resuming from a save_steps checkpoint taken
 * mid-epoch, and from one taken on the last batch of an epoch, replays the rest as well.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import type { ChangeEvent, RunEvent, StartedEvent, StepEvent } from '../../engine/protocol/events';
import { checkpointName, listCheckpoints, loadCheckpoint } from '../../engine/train/checkpoint';
import { resolveRunConfig, type RunConfig } from '../../engine/train/config';
import { TrainingControl } from '../../engine/train/control';
import { train, type TrainResult } from '../../engine/train/trainer';
import { removeModelDirs } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

const N = 15; // 24 examples / batch 4 = 6 steps per epoch: epochs end after steps 6 and 12
const STOP_AT = 7;

interface Run {
  result: TrainResult;
  events: RunEvent[];
}

async function run(config: RunConfig, stopAt?: number): Promise<Run> {
  const events: RunEvent[] = [];
  const control = new TrainingControl();
  const result = await train(config, {
    control,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.step === stopAt) control.send('stop', 'test stop');
    },
  });
  return { result, events };
}

function f32bytes(t: { data: Float32Array }): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Trained tensors and optimizer moments of two checkpoints are bit-identical. */
function assertSameCheckpoint(a: string, b: string): void {
  const ca = loadCheckpoint(a);
  const cb = loadCheckpoint(b);
  assert.deepEqual([...ca.tensors.keys()], [...cb.tensors.keys()]);
  for (const [name, t] of ca.tensors) assert.ok(f32bytes(t).equals(f32bytes(cb.tensors.get(name)!)), `${name} differs`);
  assert.equal(ca.optimizer.step, cb.optimizer.step);
  for (const name of Object.keys(ca.optimizer.m)) {
    assert.ok(f32bytes({ data: ca.optimizer.m[name]! }).equals(f32bytes({ data: cb.optimizer.m[name]! })), `exp_avg.${name} differs`);
    assert.ok(f32bytes({ data: ca.optimizer.v[name]! }).equals(f32bytes({ data: cb.optimizer.v[name]! })), `exp_avg_sq.${name} differs`);
  }
  assert.deepEqual({ ...ca.state, time: '' , bestMetric: undefined }, { ...cb.state, time: '', bestMetric: undefined });
}

describe('resume from a checkpoint', () => {
  let base: Omit<RunConfig, 'output_dir'>;
  let dir: string;
  let A: Run;

  before(async () => {
    const gen = makeTinyModel({ seed: 8 }); // dropout 0.1 as HF's default: the masks must replay too
    dir = tempDir();
    base = resolveRunConfig({
      model: gen.dir, train_file: writeTsv(path.join(dir, 'train.tsv'), makeRows(24, 12)), eval_file: writeTsv(path.join(dir, 'eval.tsv'), makeRows(8, 13)),
      max_steps: N, per_device_train_batch_size: 4, learning_rate: 1e-2, group_by_length: true,
      eval_strategy: 'epoch', save_steps: 4, save_total_limit: 0, bias_change_steps: 5,
    });
    A = await run({ ...base, output_dir: path.join(dir, 'A') });
    assert.equal(A.result.status, 'finished', A.result.reason);
    assert.equal(A.result.losses.length, N);
    assert.equal((A.events[0] as StartedEvent).stepsPerEpoch, 6);
  });

  it('stop at step k, resume from the run folder: losses, tensors and moments equal the uninterrupted run bit for bit', async () => {
    const B = await run({ ...base, output_dir: path.join(dir, 'B') }, STOP_AT);
    assert.equal(B.result.status, 'stopped');
    assert.equal(B.result.step, STOP_AT);
    const stopped = B.events.at(-1)!;
    assert.equal(stopped.type, 'stopped');
    assert.equal(stopped.type === 'stopped' && stopped.reason, 'test stop');
    // The stop wrote a checkpoint at step k (save_steps alone would have stopped at 4).
    const ck = ofType(B.events, 'checkpoint').at(-1)!;
    assert.equal(ck.step, STOP_AT);
    assert.equal(path.basename(listCheckpoints(B.result.runDir).at(-1)!), checkpointName(STOP_AT));
    const state = loadCheckpoint(ck.path).state;
    assert.deepEqual([state.step, state.epoch, state.batchInEpoch], [7, 1, 1]);

    const C = await run({ ...base, output_dir: path.join(dir, 'C'), resume_from_checkpoint: B.result.runDir });
    assert.equal(C.result.status, 'finished', C.result.reason);
    const started = C.events[0] as StartedEvent;
    assert.deepEqual(started.resumedFrom, { step: STOP_AT, path: ck.path });
    const cSteps = ofType(C.events, 'step');
    assert.deepEqual(cSteps.map((s) => s.step), Array.from({ length: N - STOP_AT }, (_, i) => STOP_AT + 1 + i));

    assert.deepEqual(B.result.losses, A.result.losses.slice(0, STOP_AT));
    assert.deepEqual([...B.result.losses, ...C.result.losses], A.result.losses); // Object.is per element: bit-identical
    const aSteps = new Map(ofType(A.events, 'step').map((s) => [s.step, s]));
    for (const s of cSteps) {
      const a = aSteps.get(s.step)!;
      assert.deepEqual([s.epoch, s.lr, s.gradNorm], [a.epoch, a.lr, a.gradNorm], `step ${s.step}`);
    }
    assertSameCheckpoint(listCheckpoints(A.result.runDir).at(-1)!, listCheckpoints(C.result.runDir).at(-1)!);

    // Bias change is measured from the pretrained biases, also after a resume.
    const aChanges = new Map(ofType(A.events, 'change').map((e) => [e.step, e]));
    const cChanges = ofType(C.events, 'change');
    assert.deepEqual(cChanges.map((e) => e.step), [10, 15]);
    for (const e of cChanges) assert.deepEqual(e.cells, (aChanges.get(e.step) as ChangeEvent).cells);
  });

  for (const [from, what] of [[4, 'mid-epoch (save_steps)'], [12, 'on the last batch of epoch 2 (save_steps)']] as const) {
    it(`resume from a checkpoint taken ${what} replays the rest exactly`, async () => {
      const ckpt = path.join(A.result.runDir, 'checkpoints', checkpointName(from));
      assert.ok(fs.existsSync(ckpt), `A has no checkpoint at step ${from}`);
      const D = await run({ ...base, output_dir: path.join(dir, `D${from}`), resume_from_checkpoint: ckpt });
      assert.equal(D.result.status, 'finished', D.result.reason);
      assert.deepEqual(D.result.losses, A.result.losses.slice(from));
      const dSteps = ofType(D.events, 'step') as StepEvent[];
      assert.equal(dSteps[0]!.step, from + 1);
      assert.deepEqual(dSteps.map((s) => s.epoch), ofType(A.events, 'step').slice(from).map((s) => s.epoch));
      assertSameCheckpoint(listCheckpoints(A.result.runDir).at(-1)!, listCheckpoints(D.result.runDir).at(-1)!);
    });
  }

  it('a checkpoint made with other bias terms is refused with WEIGHTS_MISMATCH, and nothing leaks', async () => {
    const q = await run({ ...base, method: { name: 'bitfit', bias_terms: ['query'], train_head: false }, max_steps: 2, output_dir: path.join(dir, 'Q') });
    assert.equal(q.result.status, 'finished', q.result.reason);
    const tensors = tf.memory().numTensors;
    const heard: RunEvent[] = [];
    await assert.rejects(
      train({ ...base, output_dir: path.join(dir, 'F'), resume_from_checkpoint: q.result.runDir }, { onEvent: (e) => heard.push(e) }),
      (e: unknown) => (e as { code?: string }).code === 'WEIGHTS_MISMATCH' && /lacks trainable tensor/.test((e as Error).message),
    );
    assert.deepEqual(heard, [], 'a refused resume must not start the run');
    assert.equal(fs.existsSync(path.join(dir, 'F')), false, 'a refused resume must not leave a run folder');
    assert.equal(tf.memory().numTensors, tensors, 'the refused run left tensors allocated');
  });
});

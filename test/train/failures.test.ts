/**
 * How a run fails: a loss that blows up ends the run with a 'failed' event and leaves the checkpoints written
 * before it intact; a full disk while writing a checkpoint leaves the previous one byte-identical and no temp
 * folder; an output_dir that cannot be a folder, or a bad training row, is refused before any run starts.
 * Also the data side: skipped bad rows are counted and reported, string labels become ids with names.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { PeftStudioError } from '../../engine/errors';
import type { RunEvent, StartedEvent } from '../../engine/protocol/events';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type CheckpointFs, type CheckpointState } from '../../engine/train/checkpoint';
import { resolveRunConfig, type RunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, readEventLines, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

let gen: GeneratedModel;
let dir: string;
let trainFile: string;
before(() => {
  gen = makeTinyModel({ seed: 6 });
  dir = tempDir();
  trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(16, 9));
});

function config(extra: Partial<RunConfig>): RunConfig {
  return resolveRunConfig({ model: gen.dir, train_file: trainFile, max_steps: 4, per_device_train_batch_size: 4, eval_split: 0, ...extra });
}

/** Every file of a folder, by relative path, with its bytes. */
function snapshot(folder: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(folder, { recursive: true }) as string[]) {
    const p = path.join(folder, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

describe('a loss that becomes NaN', () => {
  it('ends the run with a failed event naming the step; earlier checkpoints stay intact and loadable', async () => {
    const events: RunEvent[] = [];
    // Adam moves every bias by ~lr per step: after step 1 they are ~1e30, and step 2's attention overflows.
    const result = await train(config({ output_dir: path.join(dir, 'nan'), learning_rate: 1e30, max_steps: 10, save_steps: 1, save_total_limit: 0 }), {
      onEvent: (e) => events.push(e),
    });
    assert.equal(result.status, 'failed');
    const steps = ofType(events, 'step');
    assert.ok(steps.length >= 1 && steps.length < 10, `blew up after ${steps.length} steps`);
    assert.ok(steps.every((s) => Number.isFinite(s.loss)), 'a non-finite loss was reported as a step');
    const failedAt = steps.length + 1;
    const end = events.at(-1)!;
    assert.equal(end.type, 'failed');
    if (end.type !== 'failed') return;
    assert.match(end.reason!, /NaN|Infinity/);
    assert.match(end.reason!, new RegExp(`step ${failedAt}\\b`));
    assert.equal(end.code, 'TRAINING');
    assert.equal(end.step, failedAt - 1);
    assert.equal(result.step, failedAt - 1);

    const ckpts = listCheckpoints(result.runDir);
    assert.equal(ckpts.length, failedAt - 1, 'one checkpoint per completed step (save_steps 1)');
    assert.ok(end.reason!.includes(ckpts.at(-1)!), `reason should name the last good checkpoint: ${end.reason}`);
    ckpts.forEach((c, i) => {
      const ck = loadCheckpoint(c);
      assert.equal(ck.state.step, i + 1);
      for (const [name, t] of ck.tensors) assert.ok(t.data.every(Number.isFinite), `${c}: ${name} holds non-finite values`);
    });
    const fromFile = readEventLines(result.runDir);
    assert.deepEqual(fromFile.bad, []);
    assert.equal(fromFile.events.at(-1)!.type, 'failed');
  });
});

describe('a full disk while checkpointing', () => {
  const tensors = new Map([
    ['bert.encoder.layer.0.attention.self.query.bias', { shape: [4], data: Float32Array.of(1, 2, 3, 4) }],
    ['classifier.bias', { shape: [2], data: Float32Array.of(-1, 1) }],
  ]);
  const optimizer = {
    step: 5,
    m: { 'bert.encoder.layer.0.attention.self.query.bias': new Float32Array(4).fill(0.5), 'classifier.bias': Float32Array.of(0.1, 0.2) },
    v: { 'bert.encoder.layer.0.attention.self.query.bias': new Float32Array(4).fill(0.25), 'classifier.bias': Float32Array.of(0.01, 0.02) },
  };
  const state = (step: number): CheckpointState => ({ format: 1, step, epoch: 0, batchInEpoch: step, method: 'bitfit', time: '2026-01-01T00:00:00.000Z' });
  /** node:fs, except that the `failAt`-th write (1-based) and every later one fail with ENOSPC. */
  const fullDisk = (failAt: number): CheckpointFs & { writes: number } => {
    const f = {
      writes: 0,
      writeFileSync(file: string, data: Uint8Array | string) {
        f.writes += 1;
        if (f.writes >= failAt) {
          fs.writeFileSync(file, typeof data === 'string' ? data.slice(0, 3) : data.subarray(0, 3)); // a torn write
          throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        }
        fs.writeFileSync(file, data);
      },
    };
    return f;
  };

  for (const failAt of [1, 2, 3]) {
    it(`write ${failAt} of 3 fails: IO error saying "disk full", the previous checkpoint byte-identical, no temp folder`, () => {
      const runDir = path.join(dir, `disk-${failAt}`);
      const good = saveCheckpoint(runDir, tensors, optimizer, state(5));
      const before = snapshot(good);
      assert.equal(before.size, 3);
      for (const step of [10, 5]) {
        // A new step, and a rewrite of the existing one: neither may touch what is there.
        const disk = fullDisk(failAt);
        assert.throws(
          () => saveCheckpoint(runDir, tensors, optimizer, state(step), disk),
          (e: unknown) => e instanceof PeftStudioError && e.code === 'IO' && /disk full/.test(e.message) && /ENOSPC/.test(e.message),
        );
        assert.equal(disk.writes, failAt);
        assert.deepEqual(snapshot(good), before);
        assert.deepEqual(fs.readdirSync(path.join(runDir, 'checkpoints')), ['step-00000005'], 'a partial or temp folder was left');
        assert.equal(loadCheckpoint(good).state.step, 5);
      }
    });
  }
});

describe('a checkpoint that cannot be written during a run', () => {
  it("ends the run with a failed event (code IO) naming the checkpoint, and the event log says so", async () => {
    const out = path.join(dir, 'ckpt-blocked');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'checkpoints'), 'in the way'); // checkpoints/ cannot be created
    const events: RunEvent[] = [];
    const tensors = tf.memory().numTensors;
    const result = await train(config({ output_dir: out, save_steps: 2 }), { onEvent: (e) => events.push(e) });
    assert.equal(result.status, 'failed');
    assert.equal(result.step, 2);
    const end = events.at(-1)!;
    assert.equal(end.type, 'failed');
    if (end.type !== 'failed') return;
    assert.equal(end.code, 'IO');
    assert.match(end.reason!, /Cannot write checkpoint .*step-00000002/);
    assert.deepEqual(ofType(events, 'step').map((s) => s.step), [1, 2]);
    assert.equal(readEventLines(out).events.at(-1)!.type, 'failed');
    assert.equal(tf.memory().numTensors, tensors, 'the failed run left tensors allocated');
  });
});

describe('an output_dir that cannot be a run folder', () => {
  for (const [what, target] of [
    ['is a file', (f: string) => f],
    ['is inside a file', (f: string) => path.join(f, 'run')],
  ] as const) {
    it(`${what}: IO error naming it, before the run starts, nothing left allocated`, async () => {
      const file = path.join(dir, `not-a-folder-${what.length}`);
      fs.writeFileSync(file, 'x');
      const out = target(file);
      const events: RunEvent[] = [];
      const tensors = tf.memory().numTensors;
      await assert.rejects(
        train(config({ output_dir: out }), { onEvent: (e) => events.push(e) }),
        (e: unknown) => e instanceof PeftStudioError && e.code === 'IO' && e.message.includes(out) && /not a (folder|directory)/.test(e.message),
      );
      assert.deepEqual(events, []);
      assert.equal(fs.readFileSync(file, 'utf8'), 'x');
      assert.equal(tf.memory().numTensors, tensors, 'the refused run left tensors allocated');
    });
  }
});

describe('bad training data', () => {
  let badFile: string;
  before(() => {
    const rows = makeRows(16, 10);
    badFile = writeTsv(path.join(dir, 'bad.tsv'), rows);
    // Line 6 (header is line 1) loses its label.
    const lines = fs.readFileSync(badFile, 'utf8').split('\n');
    lines[5] = `${rows[4]!.text}\t`;
    fs.writeFileSync(badFile, lines.join('\n'));
  });

  it("on_bad_row 'fail': BAD_DATA naming file:line, before any run folder exists", async () => {
    const out = path.join(dir, 'bad-fail');
    const events: RunEvent[] = [];
    await assert.rejects(
      train(config({ train_file: badFile, output_dir: out }), { onEvent: (e) => events.push(e) }),
      (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_DATA' && e.message.includes(`${badFile}:6`) && /missing label/.test(e.message),
    );
    assert.deepEqual(events, []);
    assert.equal(fs.existsSync(out), false);
  });

  it("on_bad_row 'skip': the run completes, the started event counts the row and a notice names it", async () => {
    const events: RunEvent[] = [];
    const result = await train(config({ train_file: badFile, output_dir: path.join(dir, 'bad-skip'), on_bad_row: 'skip', eval_split: 0.2 }), {
      onEvent: (e) => events.push(e),
    });
    assert.equal(result.status, 'finished', result.reason);
    const started = events[0] as StartedEvent;
    assert.equal(started.data.badRows, 1);
    assert.equal(started.data.train + started.data.eval, 15);
    assert.equal(started.data.eval, 3, 'eval_split 0.2 of the 15 good rows');
    const notice = started.notices.find((n) => n.includes('bad row'));
    assert.ok(notice && notice.includes(badFile) && notice.includes('line 6') && /skipped 1 bad row/.test(notice), started.notices.join('\n'));
  });

  it("string labels become ids in sorted order, and the started event's id2label names them", async () => {
    const named = writeTsv(path.join(dir, 'named.tsv'), makeRows(16, 11), ['neg', 'pos']);
    const events: RunEvent[] = [];
    const result = await train(config({ train_file: named, output_dir: path.join(dir, 'named') }), { onEvent: (e) => events.push(e) });
    assert.equal(result.status, 'finished', result.reason);
    const started = events[0] as StartedEvent;
    assert.deepEqual(started.data.id2label, { 0: 'neg', 1: 'pos' });
    assert.equal(started.data.numLabels, 2);
    // A bare encoder gets a fresh head sized by the data: three names, three labels.
    const bare = makeTinyModel({ arch: 'BertModel', seed: 6 });
    const three = path.join(dir, 'three.tsv');
    fs.writeFileSync(three, fs.readFileSync(named, 'utf8').replace(/\tneg\n/, '\tmeh\n'));
    const ev3: RunEvent[] = [];
    const r3 = await train(config({ model: bare.dir, train_file: three, output_dir: path.join(dir, 'three') }), { onEvent: (e) => ev3.push(e) });
    assert.equal(r3.status, 'finished', r3.reason);
    assert.equal((ev3[0] as StartedEvent).data.numLabels, 3);
    assert.deepEqual((ev3[0] as StartedEvent).data.id2label, { 0: 'meh', 1: 'neg', 2: 'pos' });
  });
});

describe('a metric_for_best_model the task does not report', () => {
  it('is refused before a run folder exists, listing the metrics that are', async () => {
    const out = path.join(dir, 'bad-metric');
    await assert.rejects(
      train(config({ metric_for_best_model: 'acuracy', output_dir: out, eval_split: 0.25 })),
      (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && /acuracy/.test(e.message) && /accuracy, macro_f1, mcc/.test(e.message),
    );
    assert.equal(fs.existsSync(out), false);
  });

  it('a known one ranks checkpoints', async () => {
    const r = await train(config({ metric_for_best_model: 'mcc', output_dir: path.join(dir, 'mcc'), eval_split: 0.25, eval_strategy: 'steps', eval_steps: 2 }));
    assert.equal(r.status, 'finished', r.reason);
    const evals = ofType(readEventLines(r.runDir).events, 'eval');
    assert.ok(evals.length >= 2 && evals.every((e) => e.primary === 'mcc'));
  });
});

/**
 * A real run on GLUE files as users have them (../shared/glue, no editing): RTE (sentence pairs, its own
 * dev file) and SST-2 (67k training rows), with a small generated model on the real bert-base vocab.
 * The events file must be well formed from the first line to the last.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeEvent, type RunEvent } from '../../engine/protocol/events';
import { resolveRunConfig } from '../../engine/train/config';
import { EVENTS_FILE } from '../../engine/train/run-dir';
import { train } from '../../engine/train/trainer';
import { makeModelDir, removeModelDirs } from '../helpers/make-model';
import { removeTempDirs, tempDir } from '../helpers/train-fixtures';
import { sharedPath } from '../parity/reference';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

function wellFormed(runDir: string): RunEvent[] {
  const lines = fs.readFileSync(path.join(runDir, EVENTS_FILE), 'utf8').split('\n').filter(Boolean);
  const events = lines.map((l, i) => {
    const e = decodeEvent(l);
    assert.ok(e, `events.jsonl line ${i + 1} is not a valid event: ${l.slice(0, 120)}`);
    return e;
  });
  assert.equal(events[0]!.type, 'started');
  assert.equal(events.at(-1)!.type, 'finished');
  const steps = events.filter((e) => e.type === 'step').map((e) => e.step);
  assert.deepEqual(steps, steps.map((_, i) => i + 1), 'steps are consecutive from 1');
  return events;
}

describe('real GLUE files', () => {
  const model = makeModelDir({ family: 'bert', layers: 1, hidden: 16, heads: 2, intermediate: 32, vocab: 30522, maxPositions: 128 });

  it('RTE: sentence pairs with their own dev file', async () => {
    const rte = sharedPath('glue', 'RTE');
    const r = await train(
      resolveRunConfig({ model: model.dir, train_file: path.join(rte, 'train.tsv'), eval_file: path.join(rte, 'dev.tsv'), output_dir: path.join(tempDir('peft-glue-'), 'rte'), max_steps: 8, per_device_train_batch_size: 16, max_length: 128, eval_strategy: 'steps', eval_steps: 4, backend: 'wasm' }),
    );
    assert.equal(r.status, 'finished', r.reason);
    const events = wellFormed(r.runDir);
    const started = events[0] as Extract<RunEvent, { type: 'started' }>;
    assert.equal(started.data.train, 2490);
    assert.equal(started.data.eval, 277);
    assert.equal(started.data.badRows, 0);
    const evals = events.filter((e): e is Extract<RunEvent, { type: 'eval' }> => e.type === 'eval');
    assert.deepEqual(evals.map((e) => e.step), [4, 8]);
    for (const e of evals) {
      assert.equal(e.examples, 277);
      assert.ok(e.metrics.accuracy! >= 0 && e.metrics.accuracy! <= 1);
    }
  });

  it('SST-2: the full 67k-row training file, a held-out split', async () => {
    const sst = sharedPath('glue', 'SST-2');
    const r = await train(
      resolveRunConfig({ model: model.dir, train_file: path.join(sst, 'train.tsv'), output_dir: path.join(tempDir('peft-glue-'), 'sst2'), max_steps: 6, per_device_train_batch_size: 32, eval_split: 0.005, max_length: 64, backend: 'wasm', bias_change_steps: 3 }),
    );
    assert.equal(r.status, 'finished', r.reason);
    const events = wellFormed(r.runDir);
    const started = events[0] as Extract<RunEvent, { type: 'started' }>;
    assert.equal(started.data.train + started.data.eval, 67349);
    assert.equal(events.filter((e) => e.type === 'change').length, 2);
  });
});

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../backend/select';
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import { loadModel } from '../../model/load';
import { resolveRunConfig } from '../../train/config';
import { exportMerged, loadTrainedModel } from '../../train/export';
import { train } from '../../train/trainer';
import { removeModelDirs } from '../../../test/helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../../../test/helpers/train-fixtures';
import { randomBatch } from '../../../test/helpers/make-model';
import { gradientsOf } from '../../../test/helpers/method-fixtures';
import type { TensorBatch } from '../../train/batches';
import { createPeftMethod } from '../registry';
import { RandomSubset, sampleDistinct } from './method';

before(async () => {
  await initBackend();
});
after(() => {
  removeModelDirs();
  removeTempDirs();
});

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('random-subset', () => {
  it('draws k distinct indices, the same for the same seed, different for another', () => {
    const a = sampleDistinct(1000, 37, 5);
    assert.equal(new Set(a).size, 37);
    assert.ok(a.every((x, i) => x >= 0 && x < 1000 && (i === 0 || x > a[i - 1]!)));
    assert.deepEqual(sampleDistinct(1000, 37, 5), a);
    assert.notDeepEqual(sampleDistinct(1000, 37, 6), a);
    assert.equal(sampleDistinct(10, 10, 1).length, 10);
  });

  it('trains exactly `size` single entries (BitFit\'s bias count by default) plus the head', () => {
    const gen = makeTinyModel({ seed: 2 });
    const { model } = loadModel(gen.dir, { head: 'sequence-classification', numLabels: 2 });
    const m = createPeftMethod({ name: 'random-subset' });
    m.apply(model, { seed: 4, notices: [] });
    const biases = [...gen.tensors].filter(([n]) => n.endsWith('.bias') && !/^classifier\./.test(n)).reduce((a, [, t]) => a + t.data.length, 0);
    const head = [...model.params.names()].filter((n) => /^classifier\./.test(n)).reduce((a, n) => a + model.params.get(n).size, 0);
    assert.equal(RandomSubset.bitfitSize(model), biases);
    assert.equal(m.describe().trainable, biases + head);
    assert.equal(m.describe().total, model.numParameters());
    model.dispose();
    const { model: m2 } = loadModel(gen.dir, { head: 'sequence-classification', numLabels: 2 });
    const small = createPeftMethod({ name: 'random-subset', size: 7, train_head: false });
    small.apply(m2, { seed: 4, notices: [] });
    assert.equal(small.describe().trainable, 7);
    m2.dispose();
    assert.throws(() => createPeftMethod({ name: 'random-subset', size: 0 }), (e: unknown) => e instanceof PeftStudioError && /size/.test(e.message));
  });

  it("its gradients are full fine-tuning's at the chosen entries", async () => {
    const gen = makeTinyModel({ seed: 6, dropout: false });
    const r = randomBatch(2, 4, 9, gen.config.vocab_size as number, 0);
    const batch: TensorBatch = {
      inputs: { inputIds: tf.tensor2d(r.input_ids, undefined, 'int32'), attentionMask: tf.tensor2d(r.attention_mask, undefined, 'int32'), tokenTypeIds: tf.tensor2d(r.token_type_ids, undefined, 'int32') },
      labels: tf.tensor1d([0, 1, 1, 0], 'int32'),
      tokens: 0,
      size: 4,
    };
    const load = () => loadModel(gen.dir, { head: 'sequence-classification', numLabels: 2, seed: 1 }).model;
    const a = load();
    const subset = createPeftMethod({ name: 'random-subset', size: 500 });
    subset.apply(a, { seed: 7, notices: [] });
    const b = load();
    const full = createPeftMethod({ name: 'full' });
    full.apply(b, { seed: 7, notices: [] });
    const gs = await gradientsOf(a, subset, batch);
    const gf = await gradientsOf(b, full, batch);
    const chosen = (subset as unknown as { chosen: Map<string, { offsets: Int32Array }> }).chosen;
    let n = 0;
    for (const [name, { offsets }] of chosen) {
      const g = gs.get(name)!;
      const f = gf.get(name)!;
      offsets.forEach((o, j) => {
        assert.ok(Math.abs(g[j]! - f[o]!) <= 1e-6 + 1e-4 * Math.abs(f[o]!), `${name}[${o}]: ${g[j]} vs ${f[o]}`);
        n++;
      });
    }
    assert.equal(n, 500);
    a.dispose();
    b.dispose();
  });

  it('after training, every entry it did not choose is bit-identical, and the chosen ones moved', async () => {
    const gen = makeTinyModel({ seed: 3, dropout: false });
    const dir = tempDir('peft-rs-');
    const trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(32, 3));
    const result = await train(resolveRunConfig({ model: gen.dir, train_file: trainFile, output_dir: path.join(dir, 'run'), method: { name: 'random-subset', size: 300 }, max_steps: 5, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: 5e-2, weight_decay: 0.1, seed: 9 }));
    assert.equal(result.status, 'finished', result.reason);
    const { model, method } = loadTrainedModel(result.runDir);
    let moved = 0;
    let chosen = 0;
    let frozenChecked = 0;
    for (const [name, t] of gen.tensors) {
      if (/^classifier\./.test(name)) continue; // the task head trains whole
      const now = tf.tidy(() => model.params.get(name)).dataSync() as Float32Array;
      const v = method.trainable().get(name);
      if (!v) {
        assert.deepEqual(bits(now), bits(t.data), `${name} changed`);
        continue;
      }
      // The entries the method chose (its own record of them).
      const offsets = (method as unknown as { chosen: Map<string, { offsets: Int32Array }> }).chosen.get(name)!.offsets;
      const set = new Set(offsets);
      for (let i = 0; i < now.length; i++) {
        if (set.has(i)) {
          chosen++;
          if (now[i] !== t.data[i]) moved++;
        } else {
          assert.equal(bits(now.subarray(i, i + 1))[0], bits(t.data.subarray(i, i + 1))[0], `${name}[${i}] (not chosen) changed`);
          frozenChecked++;
        }
      }
    }
    assert.equal(chosen, 300);
    assert.ok(moved > 250, `only ${moved} of 300 chosen entries moved`);
    assert.ok(frozenChecked > 1000);
    // merge writes plain tensors with the trained entries in place
    const out = path.join(dir, 'merged');
    await exportMerged(result.runDir, out);
    const { model: merged } = loadModel(out);
    for (const name of method.trainable().keys()) {
      if (/^classifier\./.test(name)) continue;
      const a = tf.tidy(() => model.params.get(name)).dataSync() as Float32Array;
      assert.deepEqual(bits(merged.params.get(name).dataSync() as Float32Array), bits(a), name);
    }
    merged.dispose();
    model.dispose();
  });
});

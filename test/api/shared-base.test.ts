/**
 * One base, many task adapters: runs trained on one base model open over one shared encoder
 * (SharedBases + OverlayParamStore), predict exactly as when each is opened on its own, and a second task
 * adds only its head and method tensors to memory, not a second model. Disposing a task leaves the encoder
 * and the other task intact.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { predict } from '../../engine/api/model-handle';
import { disposeRunModels, openRunModels } from '../../engine/api/run-models';
import { initBackend } from '../../engine/backend/select';
import { tf } from '../../engine/backend/tf';
import { resolveRunConfig } from '../../engine/train/config';
import { SharedBases } from '../../engine/train/export';
import { train } from '../../engine/train/trainer';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('one base model, many task adapters', () => {
  let gen: GeneratedModel;
  const runsOf: Record<string, string> = {};
  before(async () => {
    await initBackend();
    gen = makeTinyModel({ seed: 41, dropout: false, arch: 'BertModel' }); // a pretrained encoder: each task brings its own head
    const dir = tempDir('peft-shared-');
    const two = writeTsv(path.join(dir, 'two.tsv'), makeRows(24, 1));
    const three = writeTsv(path.join(dir, 'three.tsv'), makeRows(24, 2).map((r, i) => ({ ...r, label: i % 3 })));
    for (const [name, file, method] of [
      ['lora-2', two, { name: 'lora', r: 2, target_modules: ['query', 'value'] }],
      ['lora-3', three, { name: 'lora', r: 4, target_modules: ['query', 'value', 'dense'] }],
      ['bitfit-2', two, { name: 'bitfit' }],
    ] as const) {
      const r = await train(resolveRunConfig({ model: gen.dir, train_file: file, method, max_steps: 3, per_device_train_batch_size: 8, eval_split: 0, learning_rate: 1e-2, output_dir: path.join(dir, name) }));
      assert.equal(r.status, 'finished', r.reason);
      runsOf[name] = r.runDir;
    }
  });

  it('predicts as the unshared models do, and a second task costs its own tensors only', async () => {
    const inputs = makeRows(5, 77).map((r) => ({ text: r.text }));
    const alone: Record<string, number[][]> = {};
    for (const [name, dir] of Object.entries(runsOf)) {
      const m = await openRunModels(dir);
      alone[name] = (await predict(m.trained, inputs)).map((p) => p.logits);
      alone[`${name}/base`] = (await predict(m.base, inputs)).map((p) => p.logits);
      disposeRunModels(m);
    }
    const shared = new SharedBases();
    const t0 = tf.memory().numBytes;
    const first = await openRunModels(runsOf['lora-2']!, { shared });
    const afterFirst = tf.memory().numBytes;
    const second = await openRunModels(runsOf['lora-3']!, { shared });
    const third = await openRunModels(runsOf['bitfit-2']!, { shared });
    const afterThree = tf.memory().numBytes;
    assert.equal(shared.loaded().length, 1, 'one encoder for all three');
    const encoderBytes = afterFirst - t0;
    assert.ok(afterThree - afterFirst < encoderBytes / 3, `two more tasks added ${afterThree - afterFirst} bytes; one model is ${encoderBytes}`);
    for (const [name, m] of [['lora-2', first], ['lora-3', second], ['bitfit-2', third]] as const) {
      assert.deepEqual((await predict(m.trained, inputs)).map((p) => p.logits), alone[name], `${name}: trained`);
      assert.deepEqual((await predict(m.base, inputs)).map((p) => p.logits), alone[`${name}/base`], `${name}: base`);
    }
    assert.equal(second.labels.length, 3);
    disposeRunModels(first);
    assert.deepEqual((await predict(second.trained, inputs)).map((p) => p.logits), alone['lora-3'], 'disposing one task left the others intact');
    disposeRunModels(second);
    disposeRunModels(third);
    shared.release();
    assert.ok(tf.memory().numBytes <= t0, 'the encoder and every task were freed');
  });
});

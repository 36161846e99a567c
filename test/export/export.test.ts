/**
 * Export round trips on a short real run: the delta applied to the base model, and the merged folder loaded
 * from scratch, both reproduce the trained model's logits exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { initBackend } from '../../engine/backend/select';
import { readSafetensors } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import type { EncoderModel } from '../../engine/model/model';
import { resolveRunConfig } from '../../engine/train/config';
import { applyDelta, exportDelta, exportMerged, loadRunBaseModel, loadTrainedModel, readRunInfo } from '../../engine/train/export';
import { train } from '../../engine/train/trainer';
import { makeModelDir, removeModelDirs } from '../helpers/make-model';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-export-'));
let runDir = '';
let modelDir = '';

function logitsOf(model: EncoderModel): Promise<Float32Array> {
  const ids = [
    [2, 10, 11, 12, 3, 0],
    [2, 13, 14, 3, 15, 3],
  ];
  return tf.tidy(() =>
    model.forward({
      inputIds: tf.tensor2d(ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(ids.map((r) => r.map((x) => (x === 0 ? 0 : 1))), undefined, 'int32'),
    }).logits!,
  ).data() as Promise<Float32Array>;
}

describe('export', () => {
  before(async () => {
    await initBackend({ backend: 'cpu', reinit: true });
    // A pretraining checkpoint: the pooler and classifier are fresh, so the delta must carry them.
    const made = makeModelDir({ family: 'bert', arch: 'BertForMaskedLM', layers: 2, hidden: 16, heads: 2, intermediate: 32, omit: ['bert.pooler.dense.weight', 'bert.pooler.dense.bias'] });
    modelDir = made.dir;
    const words = fs.readFileSync(path.join(modelDir, 'vocab.txt'), 'utf8').split('\n').filter((w) => /^[a-z]+$/.test(w));
    const rows = ['sentence\tlabel'];
    for (let i = 0; i < 48; i++) rows.push(`${words[i % words.length]} ${words[(i * 7) % words.length]}\t${i % 2}`);
    fs.writeFileSync(path.join(tmp, 'train.tsv'), rows.join('\n') + '\n');
    const r = await train(
      resolveRunConfig({ model: modelDir, train_file: path.join(tmp, 'train.tsv'), output_dir: path.join(tmp, 'run'), max_steps: 6, per_device_train_batch_size: 8, eval_split: 0.25, save_steps: 3 }),
    );
    assert.equal(r.status, 'finished', r.reason);
    runDir = r.runDir;
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    removeModelDirs();
  });

  it('the delta holds only trained and freshly initialised tensors, and reproduces the trained logits on the base model', async () => {
    const out = await exportDelta(runDir, path.join(tmp, 'delta'));
    const manifest = JSON.parse(fs.readFileSync(out.manifest, 'utf8'));
    const names = [...readSafetensors(out.file).tensors.keys()].sort();
    assert.deepEqual(names, [...new Set([...manifest.trained, ...manifest.initialized])].sort());
    assert.ok(manifest.initialized.includes('bert.pooler.dense.weight'), 'fresh pooler weight must travel with the delta');
    assert.ok(!names.some((n) => n.includes('word_embeddings') || n.endsWith('query.weight')), 'frozen pretrained weights must not be in the delta');
    const { model: trained } = loadTrainedModel(runDir);
    // The base as a plain user would load it (their own seed): the delta must fix every difference.
    const { model: base } = loadModel(modelDir, { head: 'sequence-classification', seed: 1234 });
    assert.notDeepEqual(await logitsOf(base), await logitsOf(trained));
    applyDelta(base, out.file);
    assert.deepEqual(await logitsOf(base), await logitsOf(trained));
    base.dispose();
    trained.dispose();
  });

  it('the merged folder loads as a complete classifier with the trained logits and label names', async () => {
    const out = await exportMerged(runDir, path.join(tmp, 'merged'));
    const { model: merged, initialized, notices } = loadModel(out.dir);
    assert.deepEqual(initialized, [], `merged model should need no fresh tensors: ${notices.join('; ')}`);
    const { model: trained } = loadTrainedModel(runDir);
    assert.deepEqual(await logitsOf(merged), await logitsOf(trained));
    const config = JSON.parse(fs.readFileSync(path.join(out.dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    assert.ok(config.id2label && Object.keys(config.id2label).length === 2);
    assert.ok(fs.existsSync(path.join(out.dir, 'vocab.txt')));
    merged.dispose();
    trained.dispose();
  });

  it('the run base model is the untrained model the run started from', async () => {
    const info = readRunInfo(runDir);
    const { model: base } = loadRunBaseModel(info);
    const { model: trained } = loadTrainedModel(runDir);
    const b0 = await base.params.get('bert.encoder.layer.0.attention.self.query.bias').data();
    const b1 = await trained.params.get('bert.encoder.layer.0.attention.self.query.bias').data();
    assert.notDeepEqual(b0, b1, 'training should have moved the query bias');
    assert.deepEqual(await base.params.get('bert.encoder.layer.0.attention.self.query.weight').data(), await trained.params.get('bert.encoder.layer.0.attention.self.query.weight').data());
    base.dispose();
    trained.dispose();
  });
});

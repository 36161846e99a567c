/**
 * The library's front door on generated models and the shared HF fixture: openModel + predict must not
 * leak tensors, batching and padding must not change a prediction, dispose must free everything, and a
 * pretraining checkpoint must open as a classifier that says which parts are fresh.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { openModel, predict, type ModelHandle, type Prediction, type PredictInput } from '../../engine/api/model-handle';
import { PeftStudioError } from '../../engine/errors';
import { makeModelDir, removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { sharedPath } from '../parity/reference';

const FIXTURE = sharedPath('fixtures', 'hf-bert-tiny');
const ENV = 'PEFT_STUDIO_BACKEND';
const savedEnv = process.env[ENV];

let bert: GeneratedModel;
let roberta: GeneratedModel;
let distil: GeneratedModel;
const open: ModelHandle[] = [];

before(() => {
  delete process.env[ENV]; // auto selection, whatever the caller's shell says
  bert = makeModelDir({ family: 'bert', maxPositions: 32, numLabels: 3, seed: 21 });
  roberta = makeModelDir({ family: 'roberta', maxPositions: 96, seed: 22 }); // its tiny BPE spends ~1 token per character
  distil = makeModelDir({ family: 'distilbert', maxPositions: 32, seed: 23 });
});

after(() => {
  for (const h of open) h.model.dispose();
  removeModelDirs();
  if (savedEnv === undefined) delete process.env[ENV];
  else process.env[ENV] = savedEnv;
});

async function openKept(dir: string): Promise<ModelHandle> {
  const h = await openModel(dir);
  open.push(h);
  return h;
}

function assertClose(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol, `${what}[${i}]: ${v} vs ${b[i]} (|Δ| ${Math.abs(v - b[i]!)} > ${tol})`));
}

const LONG = Array.from({ length: 120 }, () => 'the movie is very good').join(' '); // 600 words > 512 positions

/** Inputs of very different lengths (so most rows are padded in a batch), with and without pairs. */
const INPUTS: PredictInput[] = [
  { text: 'good' },
  { text: 'the movie is not good and it is not great, but the film is very good !' },
  { text: 'bad', textPair: 'the movie is very bad' },
  { text: LONG }, // truncated to the model's positions
  { text: 'a great film .' },
  { text: 'it is a movie', textPair: 'good' },
];

// Runs first, on a process where no backend has been chosen yet: TF.js backend init must not interleave.
describe('openModel on a fresh process', () => {
  it('two models opened concurrently share one consistent backend and both predict', async () => {
    const [a, b] = await Promise.all([openKept(bert.dir), openKept(distil.dir)]);
    assert.equal(a.backend.active, b.backend.active, 'both opens must report the same backend');
    assert.equal(tf.getBackend(), a.backend.tfBackend);
    assert.ok(!a.backend.attempts.some((x) => x.name === a.backend.active && !x.ok));
    const [pa] = await predict(a, [{ text: 'the movie is good' }]);
    const [pb] = await predict(b, [{ text: 'the movie is good' }]);
    assert.equal(pa!.logits.length, 3);
    assert.equal(pb!.logits.length, 2);
  });
});

describe('predict', () => {
  it('leaks no tensors across repeated calls (single rows, batches, several chunks)', async () => {
    const h = await openKept(bert.dir);
    await predict(h, INPUTS); // warm-up: lazily created backend state is not a leak
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let i = 0; i < 4; i++) {
      await predict(h, INPUTS);
      await predict(h, INPUTS, { batchSize: 4 });
      await predict(h, [INPUTS[1]!]);
    }
    assert.equal(tf.memory().numTensors, before, 'tensor count grew across predict calls');
    assert.equal(tf.memory().numBytes, bytes, 'tensor memory grew across predict calls');
  });

  for (const [name, get] of [
    ['hf-bert-tiny', () => FIXTURE],
    ['generated BERT', () => bert.dir],
    ['generated RoBERTa (padding id 1, positions from the mask)', () => roberta.dir],
    ['generated DistilBERT', () => distil.dir],
  ] as const) {
    it(`${name}: a batch predicts exactly what each input predicts alone (padding changes nothing)`, async () => {
      const h = await openKept(get());
      const alone: Prediction[] = [];
      for (const x of INPUTS) alone.push((await predict(h, [x]))[0]!);
      for (const batchSize of [32, 4]) {
        const batch = await predict(h, INPUTS, { batchSize });
        assert.equal(batch.length, INPUTS.length);
        batch.forEach((p, i) => {
          const what = `${name}, batchSize ${batchSize}, input ${i}`;
          assertClose(p.logits, alone[i]!.logits, 1e-5, `${what} logits`);
          assertClose(p.probabilities!, alone[i]!.probabilities!, 1e-5, `${what} probabilities`);
          assert.equal(p.label, alone[i]!.label, what);
          assert.equal(p.truncated, alone[i]!.truncated, what);
        });
      }
      assert.deepEqual(alone.map((p) => p.truncated), INPUTS.map((x) => x.text === LONG), 'only the long text is truncated');
      // Pairs are really used: the same text with and without its pair differs.
      const [withPair] = await predict(h, [INPUTS[2]!]);
      const [without] = await predict(h, [{ text: INPUTS[2]!.text }]);
      assert.ok(withPair!.logits.some((v, i) => Math.abs(v - without!.logits[i]!) > 1e-4));
    });
  }

  it('a bare encoder (BertModel) has nothing to predict with: BAD_INPUT', async () => {
    const base = makeModelDir({ family: 'bert', arch: 'BertModel', seed: 24 });
    const h = await openKept(base.dir);
    assert.equal(h.model.head, 'none');
    await assert.rejects(predict(h, [{ text: 'good' }]), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && /no classification head/.test(e.message));
  });
});

describe('dispose', () => {
  it('model.dispose frees every tensor openModel and predict created', async () => {
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const h = await openModel(roberta.dir);
    assert.ok(tf.memory().numTensors > before, 'the model holds its weights as tensors');
    await predict(h, INPUTS);
    h.model.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.memory().numBytes, bytes);
  });
});

describe('pretraining checkpoints', () => {
  const H = 32;
  const V = 120;
  const mlmHead = {
    'cls.predictions.bias': { shape: [V] },
    'cls.predictions.transform.dense.weight': { shape: [H, H] },
    'cls.predictions.transform.dense.bias': { shape: [H] },
    'cls.predictions.transform.LayerNorm.weight': { shape: [H] },
    'cls.predictions.transform.LayerNorm.bias': { shape: [H] },
  };

  it('BertForMaskedLM (no pooler) opens as a classifier; notices name the fresh pooler and classifier and the ignored MLM head', async () => {
    const mlm = makeModelDir({ family: 'bert', arch: 'BertForMaskedLM', seed: 25, extra: mlmHead });
    assert.ok(![...mlm.tensors.keys()].some((n) => n.includes('pooler')), 'the generated checkpoint has no pooler');
    const h = await openKept(mlm.dir);
    assert.equal(h.model.head, 'sequence-classification');
    const notes = h.notices.join('\n');
    assert.match(notes, /BertForMaskedLM/);
    const fresh = h.notices.find((n) => /fresh/.test(n));
    assert.ok(fresh, `no notice about fresh tensors in:\n${notes}`);
    assert.match(fresh!, /bert\.pooler\.dense/);
    assert.match(fresh!, /\bclassifier\b/);
    assert.match(notes, /cls\.predictions/);

    // Encoder weights come from the checkpoint, unchanged.
    for (const name of ['bert.encoder.layer.1.attention.self.query.bias', 'bert.embeddings.word_embeddings.weight']) {
      assertClose(Array.from(await h.model.params.get(name).data()), Array.from(mlm.tensors.get(name)!.data), 0, name);
    }
    // The fresh head is seeded: opening again gives the same prediction.
    const h2 = await openKept(mlm.dir);
    const [p1] = await predict(h, [{ text: 'the movie is good' }]);
    const [p2] = await predict(h2, [{ text: 'the movie is good' }]);
    assert.equal(p1!.logits.length, 2);
    assert.deepEqual(p1!.logits, p2!.logits);
  });

  it('BertForPreTraining (with pooler): only the classifier is fresh, the pooler is loaded', async () => {
    const pre = makeModelDir({
      family: 'bert',
      arch: 'BertForPreTraining',
      seed: 26,
      extra: { ...mlmHead, 'cls.seq_relationship.weight': { shape: [2, H] }, 'cls.seq_relationship.bias': { shape: [2] } },
    });
    const h = await openKept(pre.dir);
    const fresh = h.notices.find((n) => /fresh/.test(n));
    assert.ok(fresh, h.notices.join('\n'));
    assert.match(fresh!, /\bclassifier\b/);
    assert.doesNotMatch(fresh!, /pooler/);
    assert.match(h.notices.join('\n'), /cls\.seq_relationship|cls\.predictions/);
    const name = 'bert.pooler.dense.bias';
    assertClose(Array.from(await h.model.params.get(name).data()), Array.from(pre.tensors.get(name)!.data), 0, name);
  });
});

/**
 * BERT, RoBERTa and DistilBERT, loaded from generated HF folders and run by the engine, against the
 * independent float64 reference (test/helpers/reference-encoder.ts, itself checked against real HF in
 * reference-encoder.test.ts). Then the loader's semantics (head handling, dtypes, shards, fresh heads,
 * memory) and its errors on bad folders, each of which must say what is wrong and where.
 */
import assert from 'node:assert/strict';
import { expectError } from '../helpers/expect-error';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { robertaPositionIds } from '../../engine/model/bert';
import { loadModel } from '../../engine/model/load';
import type { EncoderModel } from '../../engine/model/model';
import { makeModelDir, randomBatch, removeModelDirs, type MakeModelOptions, type ModelFamily, type RandomBatch } from '../helpers/make-model';
import { referenceForward, relL2, robertaPositionIdsRef, type RefOutputs } from '../helpers/reference-encoder';

/** The tolerance of ../shared/fixtures/README.md for float32 against HF float64. */
const TOL = 2e-5;

before(async () => {
  await tf.setBackend('cpu');
});
after(removeModelDirs);

interface EngineOut {
  logits?: Float32Array;
  hidden: Float32Array[];
  attentions: Float32Array[];
  pooled?: Float32Array;
}

/** One eval forward pass, read back to host arrays; every tensor it made is freed (tidy). */
function runEngine(model: EncoderModel, batch: RandomBatch, opts: { tokenTypes?: boolean } = {}): EngineOut {
  const out: EngineOut = { hidden: [], attentions: [] };
  const copy = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);
  tf.tidy(() => {
    const r = model.forward(
      {
        inputIds: tf.tensor2d(batch.input_ids, undefined, 'int32'),
        attentionMask: tf.tensor2d(batch.attention_mask, undefined, 'int32'),
        tokenTypeIds: opts.tokenTypes === false ? undefined : tf.tensor2d(batch.token_type_ids, undefined, 'int32'),
      },
      { outputHiddenStates: true, outputAttentions: true },
    );
    if (r.logits) out.logits = copy(r.logits);
    if (r.pooled) out.pooled = copy(r.pooled);
    out.hidden = r.hiddenStates!.map(copy);
    out.attentions = r.attentions!.map(copy);
  });
  return out;
}

/** Engine vs reference, everything both produced: logits, pooled, every hidden state and attention map. */
function assertMatches(ours: EngineOut, ref: RefOutputs, label: string, tol = TOL): void {
  assert.equal(ours.logits === undefined, ref.logits === undefined, `${label}: logits present in one only`);
  if (ref.logits) {
    const e = relL2(ours.logits!, ref.logits);
    assert.ok(e <= tol, `${label}: logits rel L2 ${e}`);
  }
  if (ref.pooled && ours.pooled) assert.ok(relL2(ours.pooled, ref.pooled) <= tol, `${label}: pooled`);
  assert.equal(ours.hidden.length, ref.hiddenStates.length, `${label}: number of hidden states`);
  ref.hiddenStates.forEach((h, i) => {
    const e = relL2(ours.hidden[i]!, h);
    assert.ok(e <= tol, `${label}: hidden_states.${i} rel L2 ${e}`);
  });
  ref.attentions.forEach((a, i) => {
    const e = relL2(ours.attentions[i]!, a);
    assert.ok(e <= tol, `${label}: attentions.${i} rel L2 ${e}`);
  });
}

/** Special ids of each family's tokenizer, so batches look like real ones (<s>/[CLS] first, pads last). */
const SPECIALS: Record<ModelFamily, { pad: number; cls: number; sep: number; firstId: number }> = {
  bert: { pad: 0, cls: 2, sep: 3, firstId: 5 },
  distilbert: { pad: 0, cls: 2, sep: 3, firstId: 5 },
  roberta: { pad: 1, cls: 0, sep: 2, firstId: 4 },
};

function batchFor(family: ModelFamily, vocab: number, seed: number, B = 4, T = 12, pairs = family === 'bert'): RandomBatch {
  const s = SPECIALS[family];
  return randomBatch(seed, B, T, vocab, s.pad, { pairs, cls: s.cls, sep: s.sep, firstId: s.firstId });
}

const SIZES: (Partial<MakeModelOptions> & { label: string })[] = [
  { label: '2 layers, hidden 32, 4 heads, gelu', layers: 2, hidden: 32, heads: 4 },
  { label: '3 layers, hidden 48, 3 heads, relu, 3 labels', layers: 3, hidden: 48, heads: 3, intermediate: 80, act: 'relu', numLabels: 3 },
  { label: '1 layer, hidden 24, 2 heads, gelu_new', layers: 1, hidden: 24, heads: 2, act: 'gelu_new' },
];

describe('engine matches the float64 reference', () => {
  for (const family of ['bert', 'roberta', 'distilbert'] as const) {
    for (const [k, size] of SIZES.entries()) {
      it(`${family}, ${size.label}`, () => {
        const gen = makeModelDir({ family, seed: 10 + k, ...size });
        const before = tf.memory().numTensors;
        const loaded = loadModel(gen.dir);
        assert.equal(loaded.model.head, 'sequence-classification');
        assert.deepEqual(loaded.initialized, [], 'a full classifier checkpoint needs nothing fresh');
        for (const seed of [1, 2]) {
          const batch = batchFor(family, gen.config.vocab_size, seed);
          assertMatches(runEngine(loaded.model, batch), referenceForward(gen.config, gen.tensors, batch), `${family} batch ${seed}`);
        }
        loaded.model.dispose();
        assert.equal(tf.memory().numTensors, before, 'tensors leaked by load + forward + dispose');
      });
    }
  }

  it('bert sentence pairs: token types change the result, and the engine follows them', () => {
    const gen = makeModelDir({ family: 'bert', seed: 3 });
    const batch = batchFor('bert', gen.config.vocab_size, 5, 4, 12, true);
    assert.ok(batch.token_type_ids.some((row) => row.includes(1)), 'the batch must contain second segments');
    const { model } = loadModel(gen.dir);
    const ref = referenceForward(gen.config, gen.tensors, batch);
    assertMatches(runEngine(model, batch), ref, 'pairs');
    const noTypes = referenceForward(gen.config, gen.tensors, { ...batch, token_type_ids: null });
    assert.ok(relL2(noTypes.logits!, ref.logits!) > 1e-3, 'token types must matter for this check to mean anything');
    model.dispose();
  });
});

describe('RoBERTa positions', () => {
  it('robertaPositionIds counts from padding_idx + 1 and gives pads padding_idx', () => {
    const ids = [
      [0, 7, 8, 9, 2, 1, 1],
      [0, 5, 2, 1, 1, 1, 1],
      [0, 4, 5, 6, 7, 8, 2],
    ];
    const expected = [
      [2, 3, 4, 5, 6, 1, 1],
      [2, 3, 4, 1, 1, 1, 1],
      [2, 3, 4, 5, 6, 7, 8],
    ];
    const t = tf.tensor2d(ids, undefined, 'int32');
    const pos = robertaPositionIds(t, 1);
    assert.equal(pos.dtype, 'int32', 'position ids index an embedding table: tf.gather needs int32');
    assert.deepEqual(pos.arraySync(), expected);
    assert.deepEqual(robertaPositionIdsRef(ids, 1), expected);
    tf.dispose([t, pos]);
  });

  it('positions counted from 0 would be caught: they move the logits far beyond the tolerance', () => {
    const gen = makeModelDir({ family: 'roberta', seed: 4 });
    const batch = batchFor('roberta', gen.config.vocab_size, 3);
    const right = referenceForward(gen.config, gen.tensors, batch);
    const wrong = referenceForward(gen.config, gen.tensors, { ...batch, position_ids: batch.input_ids.map((r) => r.map((_, i) => i)) });
    const gap = relL2(wrong.logits!, right.logits!);
    assert.ok(gap > 1e-3 && gap > 50 * TOL, `positions from 0 change logits by only ${gap}`);
    const { model } = loadModel(gen.dir);
    const ours = runEngine(model, batch);
    assert.ok(relL2(ours.logits!, right.logits!) <= TOL);
    model.dispose();
  });
});

describe('DistilBERT', () => {
  it('has no token-type parameters and ignores tokenTypeIds', () => {
    const gen = makeModelDir({ family: 'distilbert', seed: 5 });
    const { model } = loadModel(gen.dir);
    assert.deepEqual(model.params.names().filter((n) => n.includes('token_type')), []);
    const batch = batchFor('distilbert', gen.config.vocab_size, 7, 3, 10, true);
    const withTypes = runEngine(model, { ...batch, token_type_ids: batch.token_type_ids.map((r) => r.map(() => 1)) });
    const without = runEngine(model, batch, { tokenTypes: false });
    assert.deepEqual(withTypes.logits, without.logits);
    assertMatches(without, referenceForward(gen.config, gen.tensors, batch), 'distilbert');
    model.dispose();
  });
});

describe('checkpoint formats', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype} weights load and match the reference on the same rounded weights`, () => {
      const gen = makeModelDir({ family: 'bert', seed: 6, dtype });
      const f32 = makeModelDir({ family: 'bert', seed: 6 });
      const name = 'bert.encoder.layer.0.attention.self.query.weight';
      assert.notDeepEqual(gen.tensors.get(name)!.data, f32.tensors.get(name)!.data, 'weights should really be rounded');
      const loaded = loadModel(gen.dir);
      assert.ok(loaded.notices.some((n) => n.includes(dtype)), `no notice about ${dtype}: ${loaded.notices.join(' | ')}`);
      const batch = batchFor('bert', gen.config.vocab_size, 8);
      assertMatches(runEngine(loaded.model, batch), referenceForward(gen.config, gen.tensors, batch), dtype);
      loaded.model.dispose();
    });
  }

  it('sharded safetensors (index + 3 shards) load', () => {
    const gen = makeModelDir({ family: 'roberta', seed: 7, sharded: 3 });
    assert.ok(!fs.existsSync(path.join(gen.dir, 'model.safetensors')));
    const loaded = loadModel(gen.dir);
    assert.equal(loaded.files.length, 4);
    assert.ok(loaded.files[0]!.endsWith('model.safetensors.index.json'));
    const batch = batchFor('roberta', gen.config.vocab_size, 9);
    assertMatches(runEngine(loaded.model, batch), referenceForward(gen.config, gen.tensors, batch), 'sharded');
    loaded.model.dispose();
  });
});

describe('heads', () => {
  const mlmExtra = (H: number, V: number) => ({
    'cls.predictions.bias': { shape: [V] },
    'cls.predictions.transform.dense.weight': { shape: [H, H] },
    'cls.predictions.transform.dense.bias': { shape: [H] },
    'cls.predictions.transform.LayerNorm.weight': { shape: [H] },
    'cls.predictions.transform.LayerNorm.bias': { shape: [H] },
  });

  it('a BertForMaskedLM checkpoint loads as a classifier with a fresh pooler and classifier, seeded', () => {
    const gen = makeModelDir({ family: 'bert', arch: 'BertForMaskedLM', seed: 8, extra: mlmExtra(32, 120) });
    assert.ok(!gen.tensors.has('bert.pooler.dense.weight'));
    const before = tf.memory().numTensors;
    const a = loadModel(gen.dir, { seed: 7 });
    assert.equal(a.model.head, 'sequence-classification');
    const fresh = ['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias'];
    assert.deepEqual([...a.initialized].sort(), [...fresh].sort());
    const notices = a.notices.join('\n');
    assert.ok(notices.includes('bert.pooler.dense') && notices.includes('classifier'), notices);
    assert.ok(a.ignored.includes('cls.predictions.bias'), `ignored: ${a.ignored.join(', ')}`);
    // HF's _init_weights: Linear weight ~ normal(0, initializer_range), bias 0.
    const w = a.model.params.get('bert.pooler.dense.weight').dataSync() as Float32Array;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    assert.ok(Math.abs(std - 0.02) < 0.004, `fresh pooler std ${std}, config initializer_range 0.02`);
    assert.ok(a.model.params.get('classifier.bias').dataSync().every((v) => v === 0));

    // The encoder is the checkpoint's: hidden states match the reference run on the same weights.
    const batch = batchFor('bert', 120, 10);
    const ours = runEngine(a.model, batch);
    const ref = referenceForward(gen.config, gen.tensors, batch);
    ref.hiddenStates.forEach((h, i) => assert.ok(relL2(ours.hidden[i]!, h) <= TOL, `hidden_states.${i}`));

    const b = loadModel(gen.dir, { seed: 7 });
    const c = loadModel(gen.dir, { seed: 8 });
    for (const n of fresh.filter((f) => f.endsWith('weight'))) {
      const va = a.model.params.get(n).dataSync();
      assert.deepEqual(b.model.params.get(n).dataSync(), va, `${n}: same seed, same weights`);
      assert.notDeepEqual(c.model.params.get(n).dataSync(), va, `${n}: another seed, other weights`);
    }
    for (const m of [a, b, c]) m.model.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });

  it('a BertModel checkpoint (no prefix) loads bare by default and into a classifier on request', () => {
    const gen = makeModelDir({ family: 'bert', arch: 'BertModel', seed: 9 });
    assert.ok(gen.tensors.has('embeddings.word_embeddings.weight'), 'BertModel tensors carry no bert. prefix');
    const batch = batchFor('bert', 120, 11);
    const ref = referenceForward(gen.config, gen.tensors, batch);

    const bare = loadModel(gen.dir);
    assert.equal(bare.model.head, 'none');
    const out = runEngine(bare.model, batch);
    assert.equal(out.logits, undefined);
    assertMatches(out, ref, 'BertModel bare');
    bare.model.dispose();

    const cls = loadModel(gen.dir, { head: 'sequence-classification' });
    assert.deepEqual([...cls.initialized].sort(), ['classifier.bias', 'classifier.weight']);
    const outCls = runEngine(cls.model, batch);
    ref.hiddenStates.forEach((h, i) => assert.ok(relL2(outCls.hidden[i]!, h) <= TOL, `hidden_states.${i}`));
    assert.ok(relL2(outCls.pooled!, ref.pooled!) <= TOL, 'the checkpoint pooler is used, not a fresh one');
    cls.model.dispose();
  });

  for (const family of ['bert', 'roberta', 'distilbert'] as const) {
    it(`a ${family} classifier checkpoint loads as head 'none', ignoring the classifier`, () => {
      const gen = makeModelDir({ family, seed: 12 });
      const loaded = loadModel(gen.dir, { head: 'none' });
      assert.equal(loaded.model.head, 'none');
      assert.ok(loaded.ignored.some((n) => n.startsWith('classifier.')), `ignored: ${loaded.ignored.join(', ')}`);
      assert.ok(loaded.model.params.names().every((n) => !n.startsWith(`${family}.`)), 'bare encoder names have no prefix');
      const batch = batchFor(family, gen.config.vocab_size, 13);
      const ours = runEngine(loaded.model, batch);
      const ref = referenceForward(gen.config, gen.tensors, batch);
      assert.equal(ours.logits, undefined);
      ref.hiddenStates.forEach((h, i) => assert.ok(relL2(ours.hidden[i]!, h) <= TOL, `hidden_states.${i}`));
      loaded.model.dispose();
    });
  }

  // roberta-base itself is a RobertaForMaskedLM checkpoint that carries roberta.pooler.* (HF then warns
  // "Some weights … were not used: roberta.pooler.dense.weight, …" and loads). RobertaModel checkpoints too.
  it('a RobertaForMaskedLM checkpoint with a pooler and lm_head loads as a classifier (like roberta-base)', () => {
    const H = 32;
    const gen = makeModelDir({
      family: 'roberta', arch: 'RobertaForMaskedLM', seed: 14,
      extra: {
        'roberta.pooler.dense.weight': { shape: [H, H] }, 'roberta.pooler.dense.bias': { shape: [H] },
        'lm_head.dense.weight': { shape: [H, H] }, 'lm_head.dense.bias': { shape: [H] },
        'lm_head.layer_norm.weight': { shape: [H] }, 'lm_head.layer_norm.bias': { shape: [H] }, 'lm_head.bias': { shape: [300] },
      },
    });
    const loaded = loadModel(gen.dir);
    assert.equal(loaded.model.head, 'sequence-classification');
    assert.ok(loaded.ignored.includes('roberta.pooler.dense.weight'));
    loaded.model.dispose();
  });

  it('a RobertaModel checkpoint (with its pooler) loads into a classifier', () => {
    const gen = makeModelDir({ family: 'roberta', arch: 'RobertaModel', seed: 15 });
    const loaded = loadModel(gen.dir, { head: 'sequence-classification' });
    assert.deepEqual([...loaded.initialized].sort(), ['classifier.dense.bias', 'classifier.dense.weight', 'classifier.out_proj.bias', 'classifier.out_proj.weight']);
    loaded.model.dispose();
  });
});

describe('loader errors name the file and the culprit', () => {
  const configFile = (dir: string) => path.join(dir, 'config.json');
  const editConfig = (dir: string, edit: (c: Record<string, any>) => void) => {
    const c = JSON.parse(fs.readFileSync(configFile(dir), 'utf8'));
    edit(c);
    fs.writeFileSync(configFile(dir), JSON.stringify(c));
  };

  for (const [family, name] of [
    ['bert', 'bert.encoder.layer.1.attention.self.key.weight'],
    ['roberta', 'roberta.embeddings.LayerNorm.bias'],
    ['distilbert', 'distilbert.transformer.layer.0.ffn.lin2.bias'],
  ] as const) {
    it(`${family}: a missing encoder tensor is listed by name`, () => {
      const gen = makeModelDir({ family, omit: [name] });
      expectError(() => loadModel(gen.dir), 'WEIGHTS_MISMATCH', path.join(gen.dir, 'model.safetensors'), name);
    });
  }

  it('an unexpected tensor that belongs to no known head is listed by name', () => {
    const gen = makeModelDir({ family: 'bert', extra: { 'bert.encoder.layer.0.foo.weight': { shape: [4] } } });
    expectError(() => loadModel(gen.dir), 'WEIGHTS_MISMATCH', path.join(gen.dir, 'model.safetensors'), 'bert.encoder.layer.0.foo.weight');
  });

  it('tensor shapes that disagree with config.json are listed with both shapes', () => {
    const gen = makeModelDir({ family: 'bert' }); // hidden 32
    editConfig(gen.dir, (c) => (c.hidden_size = 48));
    const e = expectError(() => loadModel(gen.dir), 'WEIGHTS_MISMATCH', 'model.safetensors', 'bert.embeddings.word_embeddings.weight');
    assert.ok(e.message.includes('32') && e.message.includes('48'), e.message);
  });

  it('num_labels that disagree with the classifier: an error with a hint, or a fresh head when allowed', () => {
    const gen = makeModelDir({ family: 'bert', numLabels: 2 });
    editConfig(gen.dir, (c) => (c.num_labels = 5));
    const e = expectError(() => loadModel(gen.dir), 'WEIGHTS_MISMATCH', 'model.safetensors', 'classifier.weight');
    assert.match(e.message, /labels/, 'the hint should point at the number of labels');

    const loaded = loadModel(gen.dir, { ignoreMismatchedSizes: true });
    assert.deepEqual([...loaded.initialized].sort(), ['classifier.bias', 'classifier.weight']);
    assert.ok(loaded.notices.some((n) => n.includes('classifier.weight')), loaded.notices.join(' | '));
    const out = runEngine(loaded.model, batchFor('bert', 120, 1));
    assert.equal(out.logits!.length, 4 * 5);
    loaded.model.dispose();
  });

  it('numLabels passed to loadModel that disagree with the classifier behave the same way', () => {
    const gen = makeModelDir({ family: 'distilbert', numLabels: 3 });
    expectError(() => loadModel(gen.dir, { numLabels: 4 }), 'WEIGHTS_MISMATCH', 'classifier.weight');
    const loaded = loadModel(gen.dir, { numLabels: 4, ignoreMismatchedSizes: true });
    // Only the last layer depends on the label count; pre_classifier stays the checkpoint's.
    assert.deepEqual([...loaded.initialized].sort(), ['classifier.bias', 'classifier.weight']);
    loaded.model.dispose();
  });

  it('a config.json without hidden_size', () => {
    const gen = makeModelDir({ family: 'bert' });
    editConfig(gen.dir, (c) => delete c.hidden_size);
    expectError(() => loadModel(gen.dir), 'BAD_CONFIG', configFile(gen.dir), 'hidden_size');
  });

  it('a DistilBERT config.json without dim', () => {
    const gen = makeModelDir({ family: 'distilbert' });
    editConfig(gen.dir, (c) => delete c.dim);
    expectError(() => loadModel(gen.dir), 'BAD_CONFIG', configFile(gen.dir), '"dim"');
  });

  it('an unsupported architecture (gpt2)', () => {
    const gen = makeModelDir({ family: 'bert' });
    editConfig(gen.dir, (c) => {
      c.model_type = 'gpt2';
      c.architectures = ['GPT2LMHeadModel'];
    });
    expectError(() => loadModel(gen.dir), 'UNSUPPORTED', configFile(gen.dir), 'gpt2');
  });

  it('no config.json', () => {
    const gen = makeModelDir({ family: 'bert' });
    fs.rmSync(configFile(gen.dir));
    expectError(() => loadModel(gen.dir), 'MISSING_FILE', configFile(gen.dir));
  });

  it('config.json that is not JSON', () => {
    const gen = makeModelDir({ family: 'bert' });
    fs.writeFileSync(configFile(gen.dir), '{"model_type": "bert", hidden_size: 32');
    expectError(() => loadModel(gen.dir), 'BAD_CONFIG', configFile(gen.dir), 'JSON');
  });
});

/**
 * LoRA's own rules: settings refused before any work, target matching as PEFT matches, the low-rank
 * summary equal to the dense ΔW's, and the native fast path: with LoRA on query and value the fused
 * self-attention kernel still runs once per layer, with the op-by-op path's loss and every gradient.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf } from '../../backend/tf';
import { initBackend } from '../../backend/select';
import { loadAddon } from '../../backend/native/addon';
import { SELF_ATTENTION } from '../../backend/native/self-attention';
import { checkFusedMatchesOpByOp, countAddonCalls, paddedTestBatch, requireAddon } from '../../backend/native/test-support';
import { PeftStudioError } from '../../errors';
import { parseConfig } from '../../model/config';
import { EncoderModel } from '../../model/model';
import { ParamStore } from '../../model/params';
import { expectedParams } from '../../model/schema';
import { createPeftMethod } from '../registry';
import { resolveRunConfig } from '../../train/config';
import { selectTargets, toLoraSettings, LORA_INFO } from './config';
import { summarizeLowRank } from './lowrank';
import { parseSettings } from '../settings';
import type { Lora } from './method';

const load = loadAddon();
const calls = countAddonCalls(load.addon, ['attention', 'attentionGrad'] as const);

function tinyModel(family: 'bert' | 'distilbert' = 'bert', seed = 0): EncoderModel {
  const config = parseConfig({
    model_type: family,
    architectures: [family === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification'],
    vocab_size: 50,
    ...(family === 'bert' ? { hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 40 } : { dim: 24, n_layers: 2, n_heads: 3, hidden_dim: 40 }),
    max_position_embeddings: 32,
    num_labels: 2,
  });
  const params = new ParamStore();
  expectedParams(config, 'sequence-classification').forEach((s, i) => {
    params.set(s.name, s.init === 'ones' ? tf.ones(s.shape) : tf.randomNormal(s.shape, 0, 0.2, 'float32', seed + i));
  });
  return new EncoderModel(config, params, 'sequence-classification');
}

const spec = (o: Record<string, unknown>) => ({ name: 'lora', ...o });

describe('LoRA settings', () => {
  it('refuses r ≤ 0 or fractional, α ≤ 0, dropout outside [0, 1), with the setting named', () => {
    for (const [bad, key] of [
      [{ r: 0 }, 'r'],
      [{ r: 2.5 }, 'r'],
      [{ lora_alpha: 0 }, 'lora_alpha'],
      [{ lora_alpha: -1 }, 'lora_alpha'],
      [{ lora_dropout: 1 }, 'lora_dropout'],
      [{ lora_dropout: -0.1 }, 'lora_dropout'],
      [{ bias: 'some' }, 'bias'],
      [{ target_modules: [] }, 'target_modules'],
    ] as const) {
      assert.throws(() => createPeftMethod(spec(bad)), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && e.message.includes(key), JSON.stringify(bad));
    }
  });

  it('a run config refuses them before any model is loaded, and takes the flat flag-named keys', () => {
    assert.throws(() => resolveRunConfig({ model: 'm', train_file: 't', method: 'lora', lora_r: 0 }), /lora: r must be ≥ 1/);
    const c = resolveRunConfig({ model: 'm', train_file: 't', method: 'lora', lora_r: 16, target_modules: ['query'] });
    assert.equal(c.method.r, 16);
    assert.deepEqual(c.method.target_modules, ['query']);
    assert.throws(() => resolveRunConfig({ model: 'm', train_file: 't', method: 'bitfit', lora_r: 4 }), /lora_r is a setting of lora, not of method bitfit/);
  });

  it('matches targets as PEFT does: name suffixes (dense hits the pooler), globs, /regex/ full match, all-linear, layers_to_transform', () => {
    const model = tinyModel();
    const modules = expectedParams(model.config, 'sequence-classification').filter((s) => s.shape.length === 2 && s.name.endsWith('.weight') && !s.name.includes('embeddings')).map((s) => s.name.slice(0, -7));
    const pick = (o: Record<string, unknown>) => selectTargets(modules, toLoraSettings(parseSettings(LORA_INFO, spec(o))));
    assert.deepEqual(pick({ target_modules: ['dense'] }).filter((m) => m.includes('pooler')), ['bert.pooler.dense']);
    assert.ok(!pick({ target_modules: 'all-linear' }).some((m) => m.startsWith('classifier')), 'the classifier is never wrapped');
    assert.deepEqual(pick({ target_modules: ['/.*layer\\.1\\.attention\\.self\\.(query|value)/'] }), ['bert.encoder.layer.1.attention.self.query', 'bert.encoder.layer.1.attention.self.value']);
    assert.deepEqual(pick({ target_modules: ['*.layer.0.*.key'] }), ['bert.encoder.layer.0.attention.self.key']);
    assert.deepEqual(pick({ target_modules: ['query'], layers_to_transform: [1] }), ['bert.encoder.layer.1.attention.self.query']);
    assert.throws(
      () => pick({ target_modules: ['q_proj', 'v_proj'] }),
      (e: unknown) => e instanceof PeftStudioError && /match no linear module/.test(e.message) && /query, key, value, dense/.test(e.message),
    );
    model.dispose();
  });
});

describe('LoRA low-rank summary', () => {
  it('‖ΔW‖F, singular values and unit norms equal those of the dense s·B·A', () => {
    const r = 3;
    const inDim = 7;
    const outDim = 5;
    const s = 1.7;
    const a = Float32Array.from({ length: r * inDim }, (_, i) => Math.sin(i * 1.3));
    const b = Float32Array.from({ length: outDim * r }, (_, i) => Math.cos(i * 0.7));
    const dw: number[][] = Array.from({ length: outDim }, (_, o) => Array.from({ length: inDim }, (_, k) => s * [0, 1, 2].reduce((acc, j) => acc + b[o * r + j]! * a[j * inDim + k]!, 0)));
    const sum = summarizeLowRank(a, b, r, inDim, outDim, s);
    const fro = Math.sqrt(dw.flat().reduce((acc, x) => acc + x * x, 0));
    assert.ok(Math.abs(sum.frobenius - fro) < 1e-9 * fro);
    assert.ok(Math.abs(Math.hypot(...sum.singular) - fro) < 1e-9 * fro, 'Σσ² = ‖ΔW‖F²');
    // Largest singular value by power iteration on ΔWᵀΔW.
    let v = Array.from({ length: inDim }, () => 1);
    for (let it = 0; it < 500; it++) {
      const u = dw.map((row) => row.reduce((acc, x, k) => acc + x * v[k]!, 0));
      const w = v.map((_, k) => dw.reduce((acc, row, o) => acc + row[k]! * u[o]!, 0));
      const n = Math.hypot(...w);
      v = w.map((x) => x / n);
    }
    const sigma1 = Math.hypot(...dw.map((row) => row.reduce((acc, x, k) => acc + x * v[k]!, 0)));
    assert.ok(Math.abs(sum.singular[0]! - sigma1) < 1e-9 * sigma1, `${sum.singular[0]} vs ${sigma1}`);
    dw.forEach((row, o) => assert.ok(Math.abs(sum.outNorms[o]! - Math.hypot(...row)) < 1e-9));
    for (let k = 0; k < inDim; k++) assert.ok(Math.abs(sum.inNorms[k]! - Math.hypot(...dw.map((row) => row[k]!))) < 1e-9);
  });
});

describe('LoRA on the native fast path', { skip: requireAddon(load) }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
  });

  for (const family of ['bert', 'distilbert'] as const) {
    it(`${family}: LoRA on query and value keeps the fused attention kernel, with the op-by-op path's loss and gradients`, async () => {
      const model = tinyModel(family, 3);
      const lora = createPeftMethod(spec({ r: 2, lora_alpha: 4, target_modules: ['query', 'value', 'q_lin', 'v_lin'], lora_dropout: 0.1 })) as Lora;
      lora.apply(model, { seed: 1, notices: [] });
      // Non-zero B, so A gets a gradient too.
      for (const [name, v] of lora.trainable()) if (name.includes('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 9));
      await checkFusedMatchesOpByOp({ kernelName: SELF_ATTENTION, model, batch: paddedTestBatch(), vars: lora.trainable(), calls, callsPerPass: { attention: 2 } });
      model.dispose();
    });
  }
});

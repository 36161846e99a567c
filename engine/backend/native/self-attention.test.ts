/**
 * The fused native self-attention (scores, masked softmax, dropout, context) and its gradient on the wasm
 * backend: within float32 rounding of a float64 reference without dropout; with dropout, equal to the same
 * steps run as separate native kernels with the same seed (the same mask); on every kernel this CPU has,
 * for heads narrower than a vector and sequences longer than a GEMM tile; bad shapes go to the separate ops;
 * and in a BERT model the fused path gives the separate path's loss and bias gradients.
 * Without the addon these tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { FLOAT32_MIN } from '../../model/layers';
import { mergeHeads, splitHeads } from '../../model/bert';
import { parseConfig } from '../../model/config';
import { EncoderModel } from '../../model/model';
import { ParamStore } from '../../model/params';
import { expectedParams } from '../../model/schema';
import { BitFit } from '../../peft/bitfit';
import { loadAddon } from './addon';
import { nativeAttentionSoftmax } from './attention-softmax';
import { nativeDropout } from './dropout';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { nativeSelfAttention, SELF_ATTENTION } from './self-attention';
import { checkFusedMatchesOpByOp, countAddonCalls, forEachKernel, paddedTestBatch, relL2, requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const calls = countAddonCalls(load.addon, ['attention', 'attentionGrad'] as const);

interface Case {
  b: number;
  t: number;
  heads: number;
  d: number;
  qkv: Float32Array; // [B, T, 3H]
  mask?: Float32Array; // [B, T]: 0 or FLOAT32_MIN
  w: Float32Array; // [B, T, H]: upstream gradient, through loss = Σ w·context
}

function makeCase(b: number, t: number, heads: number, d: number, masked: boolean, seed: number): Case {
  const r = rng(seed);
  const h = heads * d;
  // The last (i % 3) keys of batch item i are padding; at least one key stays.
  const mask = masked ? Float32Array.from({ length: b * t }, (_, i) => (i % t < Math.max(1, t - (Math.floor(i / t) % 3)) ? 0 : FLOAT32_MIN)) : undefined;
  return { b, t, heads, d, mask, qkv: Float32Array.from({ length: b * t * 3 * h }, () => r() * 2), w: Float32Array.from({ length: b * t * h }, () => r()) };
}

/**
 * float64 context and d(Σ w·context)/dqkv, in HF's op order, without dropout. BERT divides the scores by
 * √d; DistilBERT (divideQuery) the queries, which is the same function (so the same reference).
 */
function reference(c: Case): [Float64Array, Float64Array] {
  const { b, t, heads, d } = c;
  const h = heads * d;
  const divisor = Math.sqrt(d);
  const ctx = new Float64Array(b * t * h);
  const dqkv = new Float64Array(b * t * 3 * h);
  const at = (bi: number, i: number, part: number, hi: number, k: number) => ((bi * t + i) * 3 + part) * h + hi * d + k;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < heads; hi++) {
      const p: number[][] = [];
      for (let i = 0; i < t; i++) {
        const s = Array.from({ length: t }, (_, j) => {
          let dot = 0;
          for (let k = 0; k < d; k++) dot += c.qkv[at(bi, i, 0, hi, k)]! * c.qkv[at(bi, j, 1, hi, k)]!;
          return dot / divisor + (c.mask ? c.mask[bi * t + j]! : 0);
        });
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, v) => a + v, 0);
        p.push(e.map((v) => v / sum));
      }
      const wAt = (i: number, k: number) => c.w[(bi * t + i) * h + hi * d + k]!;
      for (let i = 0; i < t; i++) {
        for (let k = 0; k < d; k++) {
          let v = 0;
          for (let j = 0; j < t; j++) v += p[i]![j]! * c.qkv[at(bi, j, 2, hi, k)]!;
          ctx[(bi * t + i) * h + hi * d + k] = v;
        }
      }
      // dP = W·Vᵀ, dV = Pᵀ·W, dS = P·(dP − Σ dP·P) / divisor, dQ = dS·K, dK = dSᵀ·Q.
      for (let i = 0; i < t; i++) {
        const dp = Array.from({ length: t }, (_, j) => {
          let v = 0;
          for (let k = 0; k < d; k++) v += wAt(i, k) * c.qkv[at(bi, j, 2, hi, k)]!;
          return v;
        });
        const dot = dp.reduce((a, v, j) => a + v * p[i]![j]!, 0);
        const ds = dp.map((v, j) => (p[i]![j]! * (v - dot)) / divisor);
        for (let j = 0; j < t; j++) {
          for (let k = 0; k < d; k++) {
            dqkv[at(bi, j, 2, hi, k)] += p[i]![j]! * wAt(i, k);
            dqkv[at(bi, i, 0, hi, k)] += ds[j]! * c.qkv[at(bi, j, 1, hi, k)]!;
            dqkv[at(bi, j, 1, hi, k)] += ds[j]! * c.qkv[at(bi, i, 0, hi, k)]!;
          }
        }
      }
    }
  }
  return [ctx, dqkv];
}

/** HF's steps as separate native kernels: split heads, q·kᵀ, softmax, dropout, probs·v, merge heads. */
function separate(qkv: tf.Tensor, mask: tf.Tensor4D | undefined, heads: number, rate: number, seed: number): tf.Tensor {
  const h = qkv.shape[2]! / 3;
  const [q, k, v] = tf.split(qkv, 3, 2).map((x) => splitHeads(x, heads));
  const probs = nativeAttentionSoftmax(tf.matMul(q!, k!, false, true) as tf.Tensor4D, mask, Math.sqrt(h / heads))!;
  return mergeHeads(tf.matMul(rate > 0 ? nativeDropout(probs, rate, seed)! : probs, v!));
}

async function evaluate(c: Case, f: (qkv: tf.Tensor, mask: tf.Tensor4D | undefined) => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  const h = c.heads * c.d;
  const qkv = tf.tensor3d(c.qkv, [c.b, c.t, 3 * h]);
  const m = c.mask ? tf.tensor4d(c.mask, [c.b, 1, 1, c.t]) : undefined;
  const w = tf.tensor3d(c.w, [c.b, c.t, h]);
  const y = f(qkv, m);
  const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x, m), w)))(qkv);
  const out: [Float32Array, Float32Array] = [(await y.data()) as Float32Array, (await dx.data()) as Float32Array];
  tf.dispose([qkv, w, y, dx, ...(m ? [m] : [])]);
  return out;
}

describe('native fused self-attention on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    assert.equal(installNativeKernels().active, true);
  });
  after(() => uninstallNativeKernels());

  const shapes: [number, number, number, number][] = [
    [2, 7, 3, 5], // heads narrower than a vector, rows fewer than a micro-tile
    [2, 150, 2, 16], // more queries and keys than one GEMM tile (144)
    [3, 64, 4, 64], // BERT's head size
  ];
  for (const [b, t, heads, d] of shapes) {
    for (const masked of [true, false]) {
      for (const divideQuery of [false, true]) {
        const order = divideQuery ? 'queries divided first (DistilBERT)' : 'scores divided (BERT)';
        it(`B ${b}, T ${t}, ${heads} heads of ${d}, ${masked ? 'masked' : 'unmasked'}, ${order}: context and dqkv match float64`, async () => {
          const c = makeCase(b, t, heads, d, masked, t * 31 + d + (masked ? 1 : 0));
          const [rctx, rdq] = reference(c);
          await forEachKernel(load.addon!, async (isa) => {
            const before0 = { ...calls };
            const opts = { heads, divisor: Math.sqrt(d), divideQuery, dropoutRate: 0, seed: 0 };
            const [ctx, dq] = await evaluate(c, (x, m) => nativeSelfAttention(x as tf.Tensor3D, m, opts)!);
            assert.equal(calls.attention - before0.attention, 2, 'forward alone, then under grad');
            assert.equal(calls.attentionGrad - before0.attentionGrad, 1);
            assert.ok(relL2(ctx, rctx) < 1e-6, `${isa} context: ${relL2(ctx, rctx)} to float64`);
            assert.ok(relL2(dq, rdq) < 5e-6, `${isa} dqkv: ${relL2(dq, rdq)} to float64`);
          });
        });
      }
    }
  }

  it('dividing the queries first rounds as DistilBERT does: the same context as q / √d, then the separate kernels', async () => {
    const c = makeCase(2, 9, 2, 7, true, 3);
    const divisor = Math.sqrt(7);
    const opts = { heads: 2, divisor, divideQuery: true, dropoutRate: 0, seed: 0 };
    const [fused] = await evaluate(c, (x, m) => nativeSelfAttention(x as tf.Tensor3D, m, opts)!);
    // The same steps op by op: q / √d on its own, scores not divided (divisor 1).
    const [apart] = await evaluate(c, (x, m) => {
      const [q, k, v] = tf.split(x, 3, 2).map((y) => splitHeads(y, 2));
      const probs = nativeAttentionSoftmax(tf.matMul(tf.div(q!, divisor), k!, false, true) as tf.Tensor4D, m, 1)!;
      return mergeHeads(tf.matMul(probs, v!));
    });
    assert.ok(relL2(fused, apart) < 1e-7, `context: ${relL2(fused, apart)} to the separate steps`);
  });

  it('with dropout: the same context and gradient as the separate kernels with the same seed', async () => {
    const c = makeCase(2, 40, 3, 8, true, 11);
    const [rctx] = reference(c);
    await forEachKernel(load.addon!, async (isa) => {
      const opts = { heads: 3, divisor: Math.sqrt(8), dropoutRate: 0.25, seed: 12345 };
      const [ctx, dq] = await evaluate(c, (x, m) => nativeSelfAttention(x as tf.Tensor3D, m, opts)!);
      const [sctx, sdq] = await evaluate(c, (x, m) => separate(x, m, 3, 0.25, 12345));
      assert.ok(relL2(ctx, sctx) < 1e-6, `${isa} context: ${relL2(ctx, sctx)} to the separate kernels`);
      assert.ok(relL2(dq, sdq) < 2e-6, `${isa} dqkv: ${relL2(dq, sdq)} to the separate kernels`);
      // Dropout did happen: a quarter of the probabilities dropped moves the context far from no dropout.
      assert.ok(relL2(ctx, rctx) > 0.05, `${isa}: dropout changed the context by ${relL2(ctx, rctx)}`);
      const [other] = await evaluate(c, (x, m) => nativeSelfAttention(x as tf.Tensor3D, m, { ...opts, seed: 54321 })!);
      assert.ok(relL2(other, ctx) > 0.05, `${isa}: another seed drops other probabilities`);
    });
  });

  it('declines shapes, rates and masks it cannot run, and works only where installed', () => {
    const qkv = tf.zeros([2, 4, 12]) as tf.Tensor3D;
    const o = { heads: 2, divisor: 2, dropoutRate: 0, seed: 0 };
    assert.ok(nativeSelfAttention(qkv, tf.zeros([2, 1, 1, 4]) as tf.Tensor4D, o));
    assert.equal(nativeSelfAttention(qkv, undefined, { ...o, heads: 5 }), undefined, 'width not 3 × heads × d');
    assert.equal(nativeSelfAttention(qkv, undefined, { ...o, divisor: 0 }), undefined);
    assert.equal(nativeSelfAttention(qkv, undefined, { ...o, dropoutRate: 1 }), undefined, 'a rate that drops everything');
    assert.equal(nativeSelfAttention(qkv, tf.zeros([2, 1, 4, 4]) as tf.Tensor4D, o), undefined, 'a mask that is not [B, 1, 1, T]');
    assert.equal(nativeSelfAttention(tf.zeros([2, 4, 12], 'int32') as tf.Tensor3D, undefined, o), undefined);
    uninstallNativeKernels();
    try {
      assert.equal(nativeSelfAttention(qkv, undefined, o), undefined);
    } finally {
      installNativeKernels();
    }
  });

  for (const family of ['bert', 'distilbert'] as const) {
    it(`a ${family} classifier trains through the fused path with the separate path’s loss and bias gradients`, async () => {
      const config = parseConfig({
        model_type: family,
        architectures: [family === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification'],
        vocab_size: 50,
        ...(family === 'bert'
          ? { hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 40 }
          : { dim: 24, n_layers: 2, n_heads: 3, hidden_dim: 40 }),
        max_position_embeddings: 32,
        num_labels: 2,
      });
      const params = new ParamStore();
      expectedParams(config, 'sequence-classification').forEach((s, i) => {
        params.set(s.name, s.init === 'normal' ? tf.randomNormal(s.shape, 0, 0.2, 'float32', i) : s.init === 'ones' ? tf.ones(s.shape) : tf.randomNormal(s.shape, 0, 0.1, 'float32', 100 + i));
      });
      const model = new EncoderModel(config, params, 'sequence-classification');
      const bitfit = new BitFit({ biasTerms: ['all'], trainHead: true });
      bitfit.apply(model);
      const vars = bitfit.trainable();
      await checkFusedMatchesOpByOp({
        kernelName: SELF_ATTENTION,
        model,
        batch: paddedTestBatch(),
        vars,
        microBatchSize: 'auto',
        calls,
        callsPerPass: { attention: 2 },
        // The key bias's exact gradient is 0 (softmax ignores a per-query shift): both are rounding noise.
        skipGrad: (name) => /(attention\.self\.key|k_lin)\.bias$/.test(name),
      });
      model.params.dispose();
    });
  }
});

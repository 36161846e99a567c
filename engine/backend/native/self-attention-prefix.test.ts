/**
 * The fused native self-attention with prefix keys/values (prefix tuning): context and the gradients of the
 * projections and of the prefix within float32 rounding of a float64 reference; with dropout, equal to the
 * op-by-op path with the same seed; in a BERT classifier under prefix tuning, one fused call per layer and
 * the op-by-op path's loss and gradients. Without the addon these tests skip locally and fail under CI.
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
import { createPeftMethod } from '../../peft/registry';
import { loadAddon } from './addon';
import { nativeAttentionSoftmax } from './attention-softmax';
import { nativeDropout } from './dropout';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { nativeSelfAttentionPrefix, SELF_ATTENTION_PREFIX } from './self-attention';
import { checkFusedMatchesOpByOp, countAddonCalls, forEachKernel, paddedTestBatch, relL2, requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const calls = countAddonCalls(load.addon, ['attentionPrefix', 'attentionPrefixGrad'] as const);

interface Case {
  b: number;
  t: number;
  p: number;
  heads: number;
  d: number;
  qkv: Float32Array; // [B, T, 3H]
  prefix: Float32Array; // [P, 2H]
  mask?: Float32Array; // [B, P + T]
  w: Float32Array; // [B, T, H]
}

function makeCase(b: number, t: number, p: number, heads: number, d: number, masked: boolean, seed: number): Case {
  const r = rng(seed);
  const h = heads * d;
  const s = p + t;
  // Prefix columns always attended; the last (i % 3) real keys of batch item i are padding.
  const mask = masked ? Float32Array.from({ length: b * s }, (_, i) => (i % s < p || i % s < Math.max(p + 1, s - (Math.floor(i / s) % 3)) ? 0 : FLOAT32_MIN)) : undefined;
  return {
    b, t, p, heads, d, mask,
    qkv: Float32Array.from({ length: b * t * 3 * h }, () => r() * 2),
    prefix: Float32Array.from({ length: p * 2 * h }, () => r() * 2),
    w: Float32Array.from({ length: b * t * h }, () => r()),
  };
}

/** float64 context, d/dqkv and d/dprefix of Σ w·context, keys = [prefix keys; own keys], no dropout. */
function reference(c: Case): [Float64Array, Float64Array, Float64Array] {
  const { b, t, p, heads, d } = c;
  const h = heads * d;
  const s = p + t;
  const divisor = Math.sqrt(d);
  const ctx = new Float64Array(b * t * h);
  const dqkv = new Float64Array(b * t * 3 * h);
  const dpre = new Float64Array(p * 2 * h);
  const q = (bi: number, i: number, hi: number, k: number) => c.qkv[(bi * t + i) * 3 * h + hi * d + k]!;
  // Key / value j of S (part 0 keys, 1 values), and where its gradient goes.
  const kv = (bi: number, j: number, part: number, hi: number, k: number) => (j < p ? c.prefix[j * 2 * h + part * h + hi * d + k]! : c.qkv[(bi * t + j - p) * 3 * h + (1 + part) * h + hi * d + k]!);
  const addKv = (bi: number, j: number, part: number, hi: number, k: number, v: number) => {
    if (j < p) dpre[j * 2 * h + part * h + hi * d + k] += v;
    else dqkv[(bi * t + j - p) * 3 * h + (1 + part) * h + hi * d + k] += v;
  };
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < heads; hi++) {
      for (let i = 0; i < t; i++) {
        const sc = Array.from({ length: s }, (_, j) => {
          let dot = 0;
          for (let k = 0; k < d; k++) dot += q(bi, i, hi, k) * kv(bi, j, 0, hi, k);
          return dot / divisor + (c.mask ? c.mask[bi * s + j]! : 0);
        });
        const mx = Math.max(...sc);
        const e = sc.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, v) => a + v, 0);
        const pr = e.map((v) => v / sum);
        const wAt = (k: number) => c.w[(bi * t + i) * h + hi * d + k]!;
        for (let k = 0; k < d; k++) {
          let v = 0;
          for (let j = 0; j < s; j++) v += pr[j]! * kv(bi, j, 1, hi, k);
          ctx[(bi * t + i) * h + hi * d + k] = v;
        }
        const dp = Array.from({ length: s }, (_, j) => {
          let v = 0;
          for (let k = 0; k < d; k++) v += wAt(k) * kv(bi, j, 1, hi, k);
          return v;
        });
        const dot = dp.reduce((a, v, j) => a + v * pr[j]!, 0);
        const ds = dp.map((v, j) => (pr[j]! * (v - dot)) / divisor);
        for (let j = 0; j < s; j++) {
          for (let k = 0; k < d; k++) {
            addKv(bi, j, 1, hi, k, pr[j]! * wAt(k));
            dqkv[(bi * t + i) * 3 * h + hi * d + k] += ds[j]! * kv(bi, j, 0, hi, k);
            addKv(bi, j, 0, hi, k, ds[j]! * q(bi, i, hi, k));
          }
        }
      }
    }
  }
  return [ctx, dqkv, dpre];
}

/** The op-by-op form bert.ts runs without the kernel: prefix rows concatenated in front per head. */
function opByOp(qkv: tf.Tensor, prefix: tf.Tensor, mask: tf.Tensor4D | undefined, heads: number, rate: number, seed: number): tf.Tensor {
  const [b] = qkv.shape as number[];
  const h = qkv.shape[2]! / 3;
  const p = prefix.shape[0]!;
  const [q, k, v] = tf.split(qkv, 3, 2).map((x) => splitHeads(x, heads));
  const [pk, pv] = tf.split(prefix, 2, 1).map((x) => tf.broadcastTo(tf.transpose(x.reshape([1, p, heads, h / heads]), [0, 2, 1, 3]), [b!, heads, p, h / heads]));
  const keys = tf.concat([pk!, k!], 2);
  const values = tf.concat([pv!, v!], 2);
  const probs = nativeAttentionSoftmax(tf.matMul(q!, keys, false, true) as tf.Tensor4D, mask, Math.sqrt(h / heads))!;
  return mergeHeads(tf.matMul(rate > 0 ? nativeDropout(probs, rate, seed)! : probs, values));
}

async function evaluate(c: Case, f: (qkv: tf.Tensor, prefix: tf.Tensor, mask: tf.Tensor4D | undefined) => tf.Tensor): Promise<Float32Array[]> {
  const h = c.heads * c.d;
  const qkv = tf.tensor3d(c.qkv, [c.b, c.t, 3 * h]);
  const prefix = tf.tensor2d(c.prefix, [c.p, 2 * h]);
  const m = c.mask ? tf.tensor4d(c.mask, [c.b, 1, 1, c.p + c.t]) : undefined;
  const w = tf.tensor3d(c.w, [c.b, c.t, h]);
  const y = f(qkv, prefix, m);
  const [dx, dp] = tf.grads((x: tf.Tensor, pp: tf.Tensor) => tf.sum(tf.mul(f(x, pp, m), w)))([qkv, prefix]);
  const out = [(await y.data()) as Float32Array, (await dx!.data()) as Float32Array, (await dp!.data()) as Float32Array];
  tf.dispose([qkv, prefix, w, y, dx!, dp!, ...(m ? [m] : [])]);
  return out;
}

describe('native fused self-attention with prefix keys/values on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    assert.equal(installNativeKernels().active, true);
  });
  after(() => uninstallNativeKernels());

  const shapes: [number, number, number, number, number][] = [
    [2, 7, 3, 3, 5], // heads narrower than a vector
    [2, 150, 20, 2, 16], // more keys than one GEMM tile
    [3, 24, 5, 4, 64], // BERT's head size
  ];
  for (const [b, t, p, heads, d] of shapes) {
    for (const masked of [true, false]) {
      it(`B ${b}, T ${t}, prefix ${p}, ${heads} heads of ${d}, ${masked ? 'masked' : 'unmasked'}: context, dqkv and dprefix match float64`, async () => {
        const c = makeCase(b, t, p, heads, d, masked, t * 17 + p + (masked ? 1 : 0));
        const [rctx, rdq, rdp] = reference(c);
        await forEachKernel(load.addon!, async (isa) => {
          const before0 = { ...calls };
          const opts = { heads, divisor: Math.sqrt(d), dropoutRate: 0, seed: 0 };
          const [ctx, dq, dp] = await evaluate(c, (x, pp, m) => nativeSelfAttentionPrefix(x as tf.Tensor3D, pp as tf.Tensor2D, m, opts)!);
          assert.equal(calls.attentionPrefix - before0.attentionPrefix, 2, 'forward alone, then under grad');
          assert.equal(calls.attentionPrefixGrad - before0.attentionPrefixGrad, 1);
          assert.ok(relL2(ctx!, rctx) < 1e-6, `${isa} context: ${relL2(ctx!, rctx)} to float64`);
          assert.ok(relL2(dq!, rdq) < 5e-6, `${isa} dqkv: ${relL2(dq!, rdq)} to float64`);
          assert.ok(relL2(dp!, rdp) < 5e-6, `${isa} dprefix: ${relL2(dp!, rdp)} to float64`);
        });
      });
    }
  }

  it('with dropout: the op-by-op path’s context and gradients with the same seed', async () => {
    const c = makeCase(2, 30, 4, 3, 8, true, 5);
    const [rctx] = reference(c);
    const opts = { heads: 3, divisor: Math.sqrt(8), dropoutRate: 0.25, seed: 777 };
    const [ctx, dq, dp] = await evaluate(c, (x, pp, m) => nativeSelfAttentionPrefix(x as tf.Tensor3D, pp as tf.Tensor2D, m, opts)!);
    const [sctx, sdq, sdp] = await evaluate(c, (x, pp, m) => opByOp(x, pp, m, 3, 0.25, 777));
    assert.ok(relL2(ctx!, sctx!) < 1e-6, `context: ${relL2(ctx!, sctx!)}`);
    assert.ok(relL2(dq!, sdq!) < 2e-6, `dqkv: ${relL2(dq!, sdq!)}`);
    assert.ok(relL2(dp!, sdp!) < 2e-6, `dprefix: ${relL2(dp!, sdp!)}`);
    assert.ok(relL2(ctx!, rctx) > 0.05, 'dropout changed the context');
  });

  it('declines shapes and masks it cannot run', () => {
    const qkv = tf.zeros([2, 4, 12]) as tf.Tensor3D;
    const o = { heads: 2, divisor: 2, dropoutRate: 0, seed: 0 };
    assert.ok(nativeSelfAttentionPrefix(qkv, tf.zeros([3, 8]) as tf.Tensor2D, tf.zeros([2, 1, 1, 7]) as tf.Tensor4D, o));
    assert.equal(nativeSelfAttentionPrefix(qkv, tf.zeros([3, 6]) as tf.Tensor2D, undefined, o), undefined, 'prefix not [P, 2H]');
    assert.equal(nativeSelfAttentionPrefix(qkv, tf.zeros([3, 8]) as tf.Tensor2D, tf.zeros([2, 1, 1, 4]) as tf.Tensor4D, o), undefined, 'mask without the prefix columns');
  });

  it('a BERT classifier under prefix tuning runs one fused call per layer, with the op-by-op loss and gradients', async () => {
    const config = parseConfig({
      model_type: 'bert',
      architectures: ['BertForSequenceClassification'],
      vocab_size: 50,
      hidden_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 3,
      intermediate_size: 40,
      max_position_embeddings: 32,
      num_labels: 2,
    });
    const params = new ParamStore();
    expectedParams(config, 'sequence-classification').forEach((s, i) => {
      params.set(s.name, s.init === 'normal' ? tf.randomNormal(s.shape, 0, 0.2, 'float32', i) : s.init === 'ones' ? tf.ones(s.shape) : tf.randomNormal(s.shape, 0, 0.1, 'float32', 100 + i));
    });
    const model = new EncoderModel(config, params, 'sequence-classification');
    const method = createPeftMethod({ name: 'prefix-tuning', num_virtual_tokens: 4, prefix_projection: true, encoder_hidden_size: 8 });
    method.apply(model, { seed: 3, notices: [] });
    const vars = method.trainable();
    await checkFusedMatchesOpByOp({ kernelName: SELF_ATTENTION_PREFIX, model, batch: paddedTestBatch(), vars, microBatchSize: 'auto', calls, callsPerPass: { attentionPrefix: 2, attentionPrefixGrad: 2 } });
    model.dispose();
  });
});

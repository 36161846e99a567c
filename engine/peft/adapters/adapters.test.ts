/**
 * Bottleneck adapters' own rules: settings and AdapterHub configs refused before any work (naming the key,
 * the file and both sizes), presets and aliases, AdapterHub's init schemes from the run's seed, what
 * trains, the what-moved measure against a dense computation, the forward formula of every preset against
 * one written out here, and the native fast path: fused attention, add & LayerNorm and GEMM all still in use.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAddon } from '../../backend/native/addon';
import { countAddonCalls, requireAddon } from '../../backend/native/test-support';
import { initBackend } from '../../backend/select';
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import { parseConfig } from '../../model/config';
import { EncoderModel } from '../../model/model';
import { ParamStore } from '../../model/params';
import { expectedParams } from '../../model/schema';
import { resolveRunConfig } from '../../train/config';
import { computeGradients } from '../../train/step';
import { readSafetensors } from '../../io/safetensors';
import { loadAdapterInto, readAdapter } from '../adapter-import';
import { METHOD_INFOS, methodInfo } from '../catalog';
import { createPeftMethod, methodForAdapterConfig } from '../registry';
import type { MethodSpec } from '../types';
import { ADAPTER_MERGE_REASON, type BottleneckAdapters, summarizeBottleneck } from './index';

const load = loadAddon();
const calls = countAddonCalls(load.addon, ['attention', 'attentionGrad', 'layerNorm', 'layerNormGrad', 'gemm'] as const);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adapters-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
before(async () => {
  await initBackend({ backend: 'cpu', reinit: true });
});

function tinyModel(family: 'bert' | 'distilbert' = 'bert', seed = 0, hidden = 24): EncoderModel {
  const config = parseConfig({
    model_type: family,
    architectures: [family === 'bert' ? 'BertForSequenceClassification' : 'DistilBertForSequenceClassification'],
    vocab_size: 50,
    ...(family === 'bert' ? { hidden_size: hidden, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 40 } : { dim: hidden, n_layers: 2, n_heads: 3, hidden_dim: 40 }),
    max_position_embeddings: 32,
    num_labels: 2,
  });
  const params = new ParamStore();
  expectedParams(config, 'sequence-classification').forEach((s, i) => {
    params.set(s.name, s.init === 'ones' ? tf.ones(s.shape) : tf.randomNormal(s.shape, 0, 0.2, 'float32', seed + i));
  });
  return new EncoderModel(config, params, 'sequence-classification');
}

function batch(B = 3, T = 9) {
  return {
    inputs: {
      inputIds: tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 7) % 50), [B, T], 'int32'),
      attentionMask: tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i % T < T - 2 * Math.floor(i / T) ? 1 : 0)), [B, T], 'int32'),
      tokenTypeIds: tf.zeros([B, T], 'int32') as tf.Tensor2D,
    },
    labels: tf.tensor1d(Array.from({ length: B }, (_, i) => i % 2), 'int32'),
    tokens: B * T,
    size: B,
  };
}
const disposeBatch = (b: ReturnType<typeof batch>) => tf.dispose([...Object.values(b.inputs), b.labels]);

const bad = (code: string, ...patterns: RegExp[]) => (e: unknown) => {
  assert.ok(e instanceof PeftStudioError, String(e));
  assert.equal(e.code, code, e.message);
  for (const p of patterns) assert.match(e.message, p);
  return true;
};

/** An adapter_config.json as AdapterHub 0.1.0 writes it, with `over` replacing BnConfig fields. */
function hubConfig(over: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    config: {
      adapter_residual_before_ln: false, cross_adapter: false, init_weights: 'bert', inv_adapter: null, is_parallel: false, leave_out: [], ln_after: false, ln_before: false,
      mh_adapter: false, non_linearity: 'relu', original_ln_after: true, original_ln_before: true, output_adapter: true, phm_layer: false, reduction_factor: 16, residual_before_ln: true,
      scaling: 1.0, use_gating: false, ...over,
    },
    hidden_size: 24, model_class: 'BertForSequenceClassification', model_name: 'm', model_type: 'bert', name: 'task', version: '0.1.0', ...top,
  };
}

describe('bottleneck adapter settings', () => {
  it('three presets with AdapterHub defaults; the aliases name the same methods', () => {
    const h = createPeftMethod({ name: 'double_seq_bn' });
    const p = createPeftMethod({ name: 'seq_bn' });
    const q = createPeftMethod({ name: 'par_bn' });
    assert.deepEqual([h.name, p.name, q.name], ['houlsby', 'pfeiffer', 'parallel-adapter']);
    assert.deepEqual([h.spec.non_linearity, h.spec.mh_adapter, h.spec.original_ln_before, h.spec.scaling, h.spec.init_weights], ['swish', true, false, 1, 'bert']);
    assert.deepEqual([p.spec.non_linearity, p.spec.mh_adapter, p.spec.original_ln_before, p.spec.scaling, p.spec.init_weights], ['relu', false, true, 1, 'bert']);
    assert.deepEqual([q.spec.non_linearity, q.spec.mh_adapter, q.spec.original_ln_before, q.spec.scaling, q.spec.init_weights], ['relu', false, false, 4, 'mam_adapter']);
    for (const m of [h, p, q]) assert.equal(m.spec.reduction_factor, 16);
    assert.equal(methodInfo('seq_bn')?.name, 'pfeiffer');
    for (const n of ['houlsby', 'pfeiffer', 'parallel-adapter']) assert.ok(METHOD_INFOS.some((i) => i.name === n && i.merge === ADAPTER_MERGE_REASON && i.adapterFormat === 'adapterhub'));
  });

  it('refuses bad settings with the key named, before any model', () => {
    for (const [spec, pattern] of [
      [{ name: 'houlsby', reduction_factor: 0 }, /reduction_factor must be > 0/],
      [{ name: 'houlsby', reduction_factor: -2 }, /reduction_factor must be > 0/],
      [{ name: 'pfeiffer', non_linearity: 'mish' }, /non_linearity must be one of relu, gelu/],
      [{ name: 'pfeiffer', init_weights: 'xavier' }, /init_weights must be one of bert, mam_adapter/],
      [{ name: 'pfeiffer', leave_out: ['x'] }, /leave_out must be a list of layer indices/],
      [{ name: 'houlsby', mh_adapter: false, output_adapter: false }, /mh_adapter \/ output_adapter are both false/],
      [{ name: 'houlsby', adapter_name: 'a.b' }, /adapter_name must be letters/],
      [{ name: 'houlsby', adapter_dropout: 0.1 }, /unknown setting\(s\) adapter_dropout/],
      [{ name: 'houlsby', dropout: 1 }, /dropout must be < 1/],
      [{ name: 'houlsby', hidden_size: 8, reduction_factor: 16 }, /reduction_factor 16 leaves a bottleneck of 0 units for hidden size 8/],
    ] as Array<[MethodSpec, RegExp]>) {
      assert.throws(() => createPeftMethod(spec), bad('BAD_INPUT', pattern), JSON.stringify(spec));
    }
    assert.throws(() => createPeftMethod({ name: 'houlsbyy' }), bad('BAD_INPUT', /unknown method "houlsbyy"/));
  });

  it('a run config takes the method by alias and the flat flag-named keys; refuses a bad one before loading anything', () => {
    const c = resolveRunConfig({ model: 'm', train_file: 't', method: 'par_bn', reduction_factor: 8, adapter_scaling: 2, leave_out: [0] });
    assert.equal(c.method.name, 'parallel-adapter');
    assert.deepEqual([c.method.reduction_factor, c.method.scaling, c.method.leave_out], [8, 2, [0]]);
    assert.throws(() => resolveRunConfig({ model: 'm', train_file: 't', method: 'houlsby', non_linearity: 'softplus' }), /non_linearity must be one of/);
    assert.throws(() => resolveRunConfig({ model: 'm', train_file: 't', method: 'bitfit', reduction_factor: 8 }), /reduction_factor is a setting of houlsby, pfeiffer, parallel-adapter, not of method bitfit/);
  });

  it('m = hidden // reduction_factor must be ≥ 1 for the model it is applied to, and the places left must exist', () => {
    const model = tinyModel();
    assert.throws(() => createPeftMethod({ name: 'pfeiffer', reduction_factor: 32 }).apply(model, { seed: 1, notices: [] }), bad('BAD_INPUT', /reduction_factor 32 leaves a bottleneck of 0 units for hidden size 24/));
    assert.throws(() => createPeftMethod({ name: 'pfeiffer', leave_out: [0, 1] }).apply(model, { seed: 1, notices: [] }), bad('BAD_INPUT', /leaves no layer/));
    assert.throws(
      () => createPeftMethod({ name: 'pfeiffer', hidden_size: 128 }).apply(model, { seed: 1, notices: [] }),
      bad('WEIGHTS_MISMATCH', /hidden_size 128/, /"hidden_size"/, /hidden size is 24/),
    );
    assert.ok(!model.params.names().some((n) => n.includes('.adapters.')), 'a refused apply added nothing');
    model.dispose();
  });
});

describe('AdapterHub adapter configs', () => {
  const file = 'x/adapter_config.json';
  it('are recognised, the preset chosen by their fields, every field carried over', () => {
    assert.equal(methodForAdapterConfig(hubConfig(), file).info.name, 'pfeiffer');
    assert.equal(methodForAdapterConfig(hubConfig({ original_ln_before: false, mh_adapter: true, non_linearity: 'swish' }), file).info.name, 'houlsby');
    assert.equal(methodForAdapterConfig(hubConfig({ is_parallel: true, original_ln_before: false, scaling: 4.0, init_weights: 'mam_adapter' }), file).info.name, 'parallel-adapter');
    assert.equal(methodForAdapterConfig(hubConfig({ architecture: 'bottleneck' }), file).info.name, 'pfeiffer');
    const f = methodForAdapterConfig(hubConfig({ reduction_factor: 4, leave_out: [1], non_linearity: 'GELU', scaling: 0.5 }), file);
    const spec = f.adapter!.specFrom(hubConfig({ reduction_factor: 4, leave_out: [1], non_linearity: 'GELU', scaling: 0.5 }), file);
    assert.deepEqual(
      { rf: spec.reduction_factor, lo: spec.leave_out, act: spec.non_linearity, s: spec.scaling, n: spec.adapter_name, h: spec.hidden_size },
      { rf: 4, lo: [1], act: 'gelu', s: 0.5, n: 'task', h: 24 },
    );
    const own = f.adapter!.specFrom(hubConfig({ ln_before: true, ln_after: true, adapter_residual_before_ln: true }), file);
    assert.deepEqual([own.ln_before, own.ln_after, own.adapter_residual_before_ln], [true, true, true]);
  });

  it('refuses what this version cannot run, naming the field, and other AdapterHub methods as such', () => {
    const spec = (c: Record<string, unknown>) => methodForAdapterConfig(c, file).adapter!.specFrom(c, file);
    assert.throws(() => spec(hubConfig({ phm_layer: true })), bad('UNSUPPORTED', /config\.phm_layer is true \(Compacter\)/));
    assert.throws(() => spec(hubConfig({ use_gating: true })), bad('UNSUPPORTED', /config\.use_gating/));
    assert.throws(() => spec(hubConfig({ scaling: 'learned' })), bad('UNSUPPORTED', /config\.scaling "learned"/));
    assert.throws(() => spec(hubConfig({ reduction_factor: { '1': 8, default: 16 } })), bad('UNSUPPORTED', /per-layer mapping/));
    assert.throws(() => spec(hubConfig({ non_linearity: 'mish' })), bad('UNSUPPORTED', /config\.non_linearity "mish"/, /adapter_config\.json/));
    assert.throws(() => spec(hubConfig({ reduction_factor: 48 })), bad('BAD_CONFIG', /reduction_factor 48 leaves a bottleneck of 0 units for hidden_size 24/));
    assert.throws(() => methodForAdapterConfig(hubConfig({ architecture: 'lora', r: 8 }), file), bad('UNSUPPORTED', /cannot load \(AdapterHub config "lora"\)/, /houlsby, pfeiffer, parallel-adapter/));
    assert.throws(() => methodForAdapterConfig(hubConfig({ architecture: 'prefix_tuning' }), file), bad('UNSUPPORTED', /prefix_tuning/));
  });

  it('an adapter for a base of another hidden size is refused at apply, naming the field and both sizes', () => {
    const d = path.join(tmp, 'wide');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'adapter_config.json'), JSON.stringify(hubConfig({}, { hidden_size: 768 })));
    const a = readAdapter(d);
    const model = tinyModel();
    assert.throws(() => createPeftMethod(a.spec).apply(model, { seed: 0, notices: [] }), bad('WEIGHTS_MISMATCH', /hidden_size 768/, /hidden size is 24/));
    model.dispose();
  });
});

describe('bottleneck adapters on a model', () => {
  it("names, sizes and what trains: adapters + head (AdapterHub's train_adapter); LayerNorms only with train_layer_norms", () => {
    for (const family of ['bert', 'distilbert'] as const) {
      const model = tinyModel(family);
      const notices: string[] = [];
      const m = createPeftMethod({ name: 'houlsby', reduction_factor: 4 }) as BottleneckAdapters;
      m.apply(model, { seed: 3, notices });
      const d = 24;
      const mm = 6;
      assert.deepEqual(m.sizes, { m: mm, d, perPlace: 2 * mm * d + d + mm });
      const names = [...m.trainable().keys()];
      const adapters = names.filter((n) => n.includes('.adapters.double_seq_bn.'));
      assert.equal(adapters.length, 2 * 2 * 4);
      const at = family === 'bert' ? ['bert.encoder.layer.1.attention.output.adapters', 'bert.encoder.layer.1.output.adapters'] : ['distilbert.transformer.layer.1.attention_adapters.adapters', 'distilbert.transformer.layer.1.output_adapters.adapters'];
      for (const p of at) for (const t of ['adapter_down.0.weight', 'adapter_down.0.bias', 'adapter_up.weight', 'adapter_up.bias']) assert.ok(names.includes(`${p}.double_seq_bn.${t}`), `${p} ${t}`);
      assert.ok(names.filter((n) => !adapters.includes(n)).every((n) => /^(pre_)?classifier\./.test(n)), names.join());
      const head = names.filter((n) => /^(pre_)?classifier\./.test(n)).reduce((a, n) => a + m.trainable().get(n)!.size, 0);
      assert.equal(m.describe().trainable, 4 * (2 * mm * d + d + mm) + head);
      assert.match(notices.join('\n'), /m = 6 \(24 \/\/ 4\).*at 4 places.*318 parameters each \(2·m·d \+ d \+ m\), 1272 in all/);
      model.dispose();
      const m2 = createPeftMethod({ name: 'pfeiffer', train_layer_norms: true, leave_out: [0] });
      const model2 = tinyModel(family);
      m2.apply(model2, { seed: 3, notices: [] });
      const lns = [...m2.trainable().keys()].filter((n) => /LayerNorm|layer_norm/.test(n));
      assert.equal(lns.length, 2 * 2 * 2, lns.join());
      assert.ok(!lns.some((n) => n.includes('embeddings')));
      assert.ok(![...m2.trainable().keys()].some((n) => n.includes('layer.0.') && n.includes('.adapters.')), 'leave_out [0]');
      model2.dispose();
    }
  });

  it("initialises as AdapterHub's init_weights says, from the run's seed", async () => {
    const values = async (spec: MethodSpec, seed: number) => {
      const model = tinyModel();
      const m = createPeftMethod(spec);
      m.apply(model, { seed, notices: [] });
      const t = await m.exportTensors();
      model.dispose();
      return t;
    };
    const mam = await values({ name: 'parallel-adapter', reduction_factor: 4 }, 1);
    for (const [n, t] of mam) {
      if (n.endsWith('adapter_down.0.weight')) assert.ok(t.data.every((x) => Math.abs(x) <= 1 / Math.sqrt(24)) && t.data.some((x) => x !== 0), n);
      else if (n.includes('.adapters.')) assert.ok(t.data.every((x) => x === 0), `${n} starts at zero`);
    }
    const bert = await values({ name: 'pfeiffer', reduction_factor: 2 }, 1);
    const ws = [...bert].filter(([n]) => /adapter_(down\.0|up)\.weight$/.test(n)).flatMap(([, t]) => [...t.data]);
    const std = Math.sqrt(ws.reduce((a, x) => a + x * x, 0) / ws.length);
    assert.ok(Math.abs(std - 0.02) < 0.002, `bert init std ${std}`);
    assert.ok([...bert].filter(([n]) => n.includes('.adapters.') && n.endsWith('.bias')).every(([, t]) => t.data.every((x) => x === 0)));
    const houlsbyInit = await values({ name: 'houlsby', reduction_factor: 2, init_weights: 'houlsby' }, 1);
    assert.ok([...houlsbyInit].filter(([n]) => n.endsWith('adapter_up.weight')).every(([, t]) => t.data.every((x) => Math.abs(x) <= 0.02)));
    const again = await values({ name: 'pfeiffer', reduction_factor: 2 }, 1);
    const other = await values({ name: 'pfeiffer', reduction_factor: 2 }, 2);
    const key = [...bert.keys()].find((n) => n.endsWith('adapter_up.weight'))!;
    assert.deepEqual([...again.get(key)!.data], [...bert.get(key)!.data], 'same seed, same init');
    assert.notDeepEqual([...other.get(key)!.data], [...bert.get(key)!.data], 'another seed, another init');
  });

  it('runs each preset as AdapterHub places it (against the formula written out with the model\'s own pieces)', async () => {
    // One layer's FFN output by hand from the hidden states the model reports, for each preset.
    for (const [spec, formula] of [
      [{ name: 'houlsby', reduction_factor: 4 }, 'LN(h + f(h) + r)'],
      [{ name: 'pfeiffer', reduction_factor: 4 }, 'LN(h + f(LN(h + r)) + r)'],
      [{ name: 'parallel-adapter', reduction_factor: 4 }, 'LN(h + f(r) + r)'],
      [{ name: 'pfeiffer', reduction_factor: 4, residual_before_ln: false, original_ln_after: false, non_linearity: 'tanh', scaling: 0.7 }, 'a + f(a), a = LN(h + r)'],
      [{ name: 'houlsby', reduction_factor: 4, ln_before: true, ln_after: true }, "LN(h + LN_a(f(LN_b(h))) + r), the adapter's own LayerNorms"],
      [{ name: 'pfeiffer', reduction_factor: 4, ln_after: true, adapter_residual_before_ln: true }, 'LN(LN_a(f(a) + h) + r)'],
      [{ name: 'parallel-adapter', reduction_factor: 4, ln_before: true, ln_after: true }, 'LN(h + LN_a(f(LN_b(r))) + r)'],
    ] as Array<[MethodSpec, string]>) {
      const model = tinyModel('bert', 5);
      const m = createPeftMethod(spec) as BottleneckAdapters;
      m.apply(model, { seed: 4, notices: [] });
      for (const [, v] of m.trainable()) if (v.name.includes('.adapters.')) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', 11));
      const b = batch();
      const p = model.params;
      const got = tf.tidy(() => {
        const out = model.forward(b.inputs, { outputHiddenStates: true });
        const hs = out.hiddenStates!;
        const s = m.settings;
        const L = 'bert.encoder.layer.1';
        const ln = (x: tf.Tensor, pre: string) => {
          const mean = tf.mean(x, -1, true);
          const c = tf.sub(x, mean);
          return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-12))), p.get(`${pre}.weight`)), p.get(`${pre}.bias`));
        };
        const dense = (x: tf.Tensor, pre: string) => tf.add(tf.matMul(x.reshape([-1, x.shape[2]!]), p.get(`${pre}.weight`), false, true), p.get(`${pre}.bias`)).reshape([...x.shape.slice(0, 2), -1]);
        const act = (x: tf.Tensor) => (s.nonLinearity === 'relu' ? tf.relu(x) : s.nonLinearity === 'tanh' ? tf.tanh(x) : tf.mul(x, tf.sigmoid(x)));
        const ownLn = (x: tf.Tensor, pre: string) => {
          const c = tf.sub(x, tf.mean(x, -1, true));
          return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-5))), p.get(`${pre}.weight`)), p.get(`${pre}.bias`));
        };
        const f = (z: tf.Tensor, place: string) => {
          const pre = `${L}.${place}.adapters.${s.adapterName}`;
          const zin = s.lnBefore ? ownLn(z, `${pre}.adapter_norm_before`) : z;
          return tf.mul(dense(act(dense(zin, `${pre}.adapter_down.${s.lnBefore ? 1 : 0}`)), `${pre}.adapter_up`), s.scaling);
        };
        // The adapter's output with its skip, as Adapter.forward / ParallelAdapter.forward make it.
        const withSkip = (z: tf.Tensor, skip: tf.Tensor | undefined, place: string) => {
          const pre = `${L}.${place}.adapters.${s.adapterName}.adapter_norm_after`;
          const y = f(z, place);
          if (!skip) return s.lnAfter ? ownLn(y, pre) : y;
          if (!s.lnAfter) return tf.add(y, skip);
          return s.adapterResidualBeforeLn ? ownLn(tf.add(y, skip), pre) : tf.add(ownLn(y, pre), skip);
        };
        // Layer 1 from its input (the model's hidden state 1), Houlsby's attention adapter included.
        const x = hs[1]!;
        const a = layerAttention(model, x, b.inputs.attentionMask, s.mhAdapter ? (h: tf.Tensor, r: tf.Tensor) => ln(tf.add(withSkip(h, h, 'attention.output'), r), `${L}.attention.output.LayerNorm`) : undefined);
        const inter = dense(a, `${L}.intermediate.dense`);
        const g = tf.mul(tf.mul(inter, 0.5), tf.add(tf.erf(tf.mul(inter, Math.SQRT1_2)), 1));
        const h = dense(g, `${L}.output.dense`);
        const r = a;
        const N = `${L}.output.LayerNorm`;
        let want: tf.Tensor;
        if (s.isParallel) want = ln(tf.add(tf.add(h, withSkip(r, undefined, 'output')), r), N);
        else {
          const z = s.originalLnBefore ? ln(tf.add(h, r), N) : h;
          const o = withSkip(z, s.residualBeforeLn ? h : z, 'output');
          want = s.originalLnAfter ? ln(tf.add(o, r), N) : o;
        }
        return tf.sub(hs[2]!, want).abs().max().dataSync()[0]!;
      });
      assert.ok(got < 2e-5, `${spec.name} (${formula}): max |Δ| ${got}`);
      disposeBatch(b);
      model.dispose();
    }
  });

  it('what moved: one cell per place, s·‖W_up·W_down‖F / √d against a dense product, the units carrying most first', async () => {
    const model = tinyModel();
    const m = createPeftMethod({ name: 'houlsby', reduction_factor: 4, scaling: 2 }) as BottleneckAdapters;
    m.apply(model, { seed: 2, notices: [] });
    const layout = m.changeLayout();
    assert.deepEqual(layout.columns, ['attention', 'output']);
    const first = await m.changeReport(0, 3);
    assert.ok(first.cells.every((c) => c.relative === 0), 'nothing moved yet');
    for (const [, v] of m.trainable()) if (v.name.includes('.adapters.')) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 3)));
    const ev = await m.changeReport(7, 3);
    assert.equal(ev.cells.length, 4);
    for (const c of ev.cells) {
      assert.ok(layout.rows.includes(c.row) && layout.columns.includes(c.kind), `${c.row} × ${c.kind}`);
      const down = m.trainable().get(`${c.name}.adapter_down.0.weight`)!;
      const up = m.trainable().get(`${c.name}.adapter_up.weight`)!;
      const dense = tf.tidy(() => tf.mul(tf.norm(tf.matMul(up, down)), 2 / Math.sqrt(24)).dataSync()[0]!);
      assert.ok(Math.abs(c.value - dense) < 1e-5 * dense, `${c.value} vs ${dense}`);
      const rows = tf.tidy(() => tf.mul(tf.norm(tf.matMul(up, down), 'euclidean', 1), 2).dataSync() as Float32Array);
      const big = [...rows.keys()].sort((x, y) => rows[y]! - rows[x]!)[0]!;
      const out = c.details!.find((x) => x.title.startsWith('hidden units'))!.items[0]!;
      assert.equal(out.label, `out ${big}`);
      assert.ok(Math.abs(out.value - rows[big]!) < 1e-5 * rows[big]!);
      assert.ok(c.relative! > 0);
      assert.equal(c.top.length, 3);
      assert.ok(c.top[0]!.delta >= c.top[1]!.delta && c.top[1]!.delta >= c.top[2]!.delta);
    }
    const s = summarizeBottleneck(new Float32Array([1, 0, 0, 1]), new Float32Array([1, 0, 0, 1]), 2, 2, 1);
    assert.ok(Math.abs(s.gain - 1) < 1e-12, 'the identity has gain 1');
    assert.throws(() => m.merge(), bad('UNSUPPORTED', /cannot be merged/, /export --adapter/));
    model.dispose();
  });
});

describe("the adapter's own LayerNorms in AdapterHub's files", () => {
  it('export writes the input LayerNorm under both names torch saves it by; --adapter reads it back, same logits', async () => {
    const model = tinyModel('bert', 2);
    const m = createPeftMethod({ name: 'houlsby', reduction_factor: 4, ln_before: true, ln_after: true, adapter_name: 'own' }) as BottleneckAdapters;
    m.apply(model, { seed: 2, notices: [] });
    assert.equal(m.sizes.perPlace, 2 * 6 * 24 + 24 + 6 + 4 * 24);
    for (const [, v] of m.trainable()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 5)));
    const names = [...m.trainable().keys()].filter((n) => n.startsWith('bert.encoder.layer.0.output.'));
    assert.deepEqual(names.map((n) => n.slice('bert.encoder.layer.0.output.adapters.own.'.length)), [
      'adapter_norm_before.weight', 'adapter_norm_before.bias', 'adapter_down.1.weight', 'adapter_down.1.bias', 'adapter_up.weight', 'adapter_up.bias', 'adapter_norm_after.weight', 'adapter_norm_after.bias',
    ]);
    const out = path.join(tmp, 'own-ln');
    await m.exportAdapter(out, { baseModel: 'm', id2label: { 0: 'a', 1: 'b' }, problemType: 'single_label_classification' });
    const saved = readSafetensors(path.join(out, 'adapter_model.safetensors')).tensors;
    const pre = 'bert.encoder.layer.0.output.adapters.own.';
    assert.deepEqual(saved.get(`${pre}adapter_down.0.weight`)!.shape, [24]);
    assert.deepEqual([...saved.get(`${pre}adapter_down.0.weight`)!.data], [...saved.get(`${pre}adapter_norm_before.weight`)!.data]);
    assert.deepEqual(saved.get(`${pre}adapter_down.1.weight`)!.shape, [6, 24]);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    assert.deepEqual([cfg.config.ln_before, cfg.config.ln_after, cfg.name], [true, true, 'own']);
    const b = batch();
    const want = tf.tidy(() => model.forward(b.inputs).logits!.dataSync() as Float32Array);
    const again = tinyModel('bert', 2);
    const m2 = createPeftMethod(readAdapter(out).spec);
    m2.apply(again, { seed: 9, notices: [] });
    loadAdapterInto(m2, out);
    const got = tf.tidy(() => again.forward(b.inputs).logits!.dataSync() as Float32Array);
    assert.deepEqual([...got], [...want]);
    disposeBatch(b);
    model.dispose();
    again.dispose();
  });
});

describe('bottleneck adapters on the native fast path', { skip: requireAddon(load) }, () => {
  it('keep the fused attention and add & LayerNorm kernels; the adapter products run on the native GEMM', async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    try {
      const delta = async (run: () => Promise<void>) => {
        const before = { ...calls };
        await run();
        return Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v - before[k as keyof typeof calls]])) as typeof calls;
      };
      const b = batch();
      const plain = tinyModel('bert', 1);
      const base = await delta(async () => void tf.dispose(tf.tidy(() => plain.forward(b.inputs).logits!)));
      plain.dispose();
      assert.deepEqual([base.attention, base.layerNorm], [2, 5]);
      for (const [spec, places, extraLn] of [
        [{ name: 'houlsby', reduction_factor: 4 }, 4, 0],
        [{ name: 'pfeiffer', reduction_factor: 4 }, 2, 2],
        [{ name: 'parallel-adapter', reduction_factor: 4 }, 2, 0],
      ] as Array<[MethodSpec, number, number]>) {
        const model = tinyModel('bert', 1);
        const method = createPeftMethod(spec);
        method.apply(model, { seed: 1, notices: [] });
        const fwd = await delta(async () => void tf.dispose(tf.tidy(() => model.forward(b.inputs).logits!)));
        assert.equal(fwd.attention, 2, `${spec.name}: one fused attention call per layer`);
        // Pfeiffer's LN(h + r) before its adapter is the module's own LayerNorm run a second time.
        assert.equal(fwd.layerNorm, base.layerNorm + extraLn, `${spec.name}: every add & norm on the native kernel`);
        assert.equal(fwd.gemm, base.gemm + 2 * places, `${spec.name}: the down and up products of every place on the native GEMM`);
        const bwd = await delta(async () => {
          const r = await computeGradients(model, [b], 'single_label_classification', method.trainable(), { training: true, seed: 5 });
          tf.dispose([...r.grads.values()]);
        });
        // Nothing below layer 0's adapters trains, so only layer 1's attention needs a gradient: through the fused kernel.
        assert.equal(bwd.attentionGrad, 1, `${spec.name}: the fused attention gradient`);
        assert.ok(bwd.layerNormGrad >= 3, `${spec.name}: native LayerNorm gradients (${bwd.layerNormGrad})`);
        assert.ok(bwd.gemm >= fwd.gemm + 2 * places, `${spec.name}: the adapters' weight gradients on the native GEMM (${bwd.gemm})`);
        model.dispose();
      }
      disposeBatch(b);
    } finally {
      await initBackend({ backend: 'cpu', reinit: true });
    }
  });
});

/** Layer 1's attention block of a BERT model as bert.ts runs it, with an optional replacement of its add & norm. */
function layerAttention(model: EncoderModel, x: tf.Tensor, mask: tf.Tensor2D, addNorm?: (h: tf.Tensor, r: tf.Tensor) => tf.Tensor): tf.Tensor {
  const p = model.params;
  const L = 'bert.encoder.layer.1.attention';
  const [B, T, H] = x.shape as [number, number, number];
  const heads = model.config.numAttentionHeads;
  const dh = H / heads;
  const lin = (t: tf.Tensor, pre: string) => tf.add(tf.matMul(t.reshape([-1, H]), p.get(`${pre}.weight`), false, true), p.get(`${pre}.bias`)).reshape([B, T, H]);
  const split = (t: tf.Tensor) => tf.transpose(t.reshape([B, T, heads, dh]), [0, 2, 1, 3]);
  const q = split(lin(x, `${L}.self.query`));
  const k = split(lin(x, `${L}.self.key`));
  const v = split(lin(x, `${L}.self.value`));
  const m = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -3.4028234663852886e38).reshape([B, 1, 1, T]);
  const probs = tf.softmax(tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)), m));
  const ctx = tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]).reshape([B, T, H]);
  const h = lin(ctx, `${L}.output.dense`);
  if (addNorm) return addNorm(h, x);
  const s = tf.add(h, x);
  const mean = tf.mean(s, -1, true);
  const c = tf.sub(s, mean);
  return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-12))), p.get(`${L}.output.LayerNorm.weight`)), p.get(`${L}.output.LayerNorm.bias`));
}

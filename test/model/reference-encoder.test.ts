/**
 * The float64 reference encoder (test/helpers/reference-encoder.ts) against HF itself: on the real HF
 * fixture it must reproduce transformers' float64 outputs to ~1e-9, which is what entitles the family tests
 * to use it as ground truth for shapes and families HF did not record.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readSafetensors } from '../../engine/io/safetensors';
import { erf, erfcLarge, referenceForward, relL2 as rawRelL2, type RefWeight } from '../helpers/reference-encoder';

const FIXTURE = path.resolve(__dirname, '../../../shared/fixtures/hf-bert-tiny');

function fixture(file: string): string {
  const p = path.join(FIXTURE, file);
  if (!fs.existsSync(p)) {
    assert.fail(`${p} not found: this test needs the shared data folder checked out next to the repository (../shared)`);
  }
  return p;
}

describe('reference encoder', () => {
  it('erf matches tabulated values to 1e-15', () => {
    const table: [number, number][] = [
      [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527],
      [2.4, 0.999311486103355], [3, 0.9999779095030014], [-1.5, -0.9661051464753108],
    ];
    for (const [x, v] of table) assert.ok(Math.abs(erf(x) - v) < 1e-15, `erf(${x}) = ${erf(x)}, want ${v}`);
    // erfc far out, relative: where 1 − erf loses everything, the continued fraction must not.
    assert.ok(Math.abs(erfcLarge(4) / 1.541725790028002e-8 - 1) < 1e-13);
    assert.equal(erf(0), 0);
  });

  it('reproduces HF BertForSequenceClassification float64 outputs on hf-bert-tiny', () => {
    const config = JSON.parse(fs.readFileSync(fixture('config.json'), 'utf8'));
    const c = JSON.parse(fs.readFileSync(fixture('case.json'), 'utf8'));
    const expected = readSafetensors(fixture('expected.safetensors')).tensors;
    const weights = new Map<string, RefWeight>();
    for (const [name, t] of readSafetensors(fixture('model.safetensors')).tensors) {
      if (t.data instanceof Float32Array) weights.set(name, { shape: t.shape, data: t.data });
    }
    const out = referenceForward(config, weights, c);
    const exp = (name: string) => {
      const t = expected.get(name);
      assert.ok(t, `expected.safetensors lacks ${name}`);
      return t.data;
    };
    // expected.safetensors stores HF's float64 results rounded to float32 (raw rel L2 floor ~3e-8), so we
    // compare after the same rounding: agreement to ~1e-15 then makes nearly every element bit-identical,
    // and a rare tie flipping one float32 ulp costs ~1e-10 at most.
    const TOL = 1e-9;
    const relL2 = (a: Float64Array, b: ArrayLike<number>) => rawRelL2(Float32Array.from(a), b);
    const logitsErr = relL2(out.logits!, exp('f64.logits'));
    assert.ok(logitsErr <= TOL, `logits rel L2 ${logitsErr}`);
    assert.equal(out.hiddenStates.length, config.num_hidden_layers + 1);
    out.hiddenStates.forEach((h, i) => {
      const e = relL2(h, exp(`f64.hidden_states.${i}`));
      assert.ok(e <= TOL, `hidden_states.${i} rel L2 ${e}`);
    });
    out.attentions.forEach((a, i) => {
      const e = relL2(a, exp(`f64.attentions.${i}`));
      assert.ok(e <= TOL, `attentions.${i} rel L2 ${e}`);
    });
    const pooledErr = relL2(out.pooled!, exp('f64.pooled'));
    assert.ok(pooledErr <= TOL, `pooled rel L2 ${pooledErr}`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitDataset } from './split';
import type { Dataset } from './types';

/** 100 examples: labels 0 (70 of them) and 1 (30), line = index + 2 as if read from a file with a header. */
function dataset(): Dataset {
  const examples = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: i % 10 < 7 ? 0 : 1, line: i + 2 }));
  return { file: 'x.tsv', format: 'tsv', examples, badRows: [], numLabels: 2, task: 'classification', columns: { text: 'text', label: 'label' }, hasLabels: true };
}
const lines = (ds: Dataset) => ds.examples.map((e) => e.line);

describe('splitDataset', () => {
  it('holds out round(f·n) examples; the halves partition the data and keep file order', () => {
    const ds = dataset();
    const { train, eval: ev } = splitDataset(ds, { evalFraction: 0.15, seed: 1 });
    assert.equal(ev.examples.length, 15);
    assert.equal(train.examples.length, 85);
    assert.deepEqual([...lines(train), ...lines(ev)].sort((a, b) => a - b), lines(ds));
    assert.deepEqual(lines(ev), [...lines(ev)].sort((a, b) => a - b));
    assert.equal(train.numLabels, 2);
  });

  it('is deterministic for a seed and differs for another', () => {
    const a = splitDataset(dataset(), { evalFraction: 0.2, seed: 7 });
    const b = splitDataset(dataset(), { evalFraction: 0.2, seed: 7 });
    const c = splitDataset(dataset(), { evalFraction: 0.2, seed: 8 });
    assert.deepEqual(lines(a.eval), lines(b.eval));
    assert.notDeepEqual(lines(a.eval), lines(c.eval));
  });

  it('stratify keeps class shares: 20% of 70 zeros and 30 ones is exactly 14 + 6', () => {
    for (const seed of [1, 2, 3]) {
      const { eval: ev } = splitDataset(dataset(), { evalFraction: 0.2, seed, stratify: true });
      assert.equal(ev.examples.filter((e) => e.label === 0).length, 14);
      assert.equal(ev.examples.filter((e) => e.label === 1).length, 6);
    }
  });

  it('stratify hands leftovers to the largest remainders so the total is exact', () => {
    // 25% of 70 = 17.5 and of 30 = 7.5: floors 17 + 7 = 24, one more to reach 25 (ties: lower class).
    const { eval: ev } = splitDataset(dataset(), { evalFraction: 0.25, seed: 1, stratify: true });
    assert.equal(ev.examples.length, 25);
    assert.equal(ev.examples.filter((e) => e.label === 0).length, 18);
  });

  it('refuses fractions that leave a side empty, and stratifying regression', () => {
    assert.throws(() => splitDataset(dataset(), { evalFraction: 0, seed: 1 }), { code: 'BAD_INPUT' });
    assert.throws(() => splitDataset(dataset(), { evalFraction: 0.001, seed: 1 }), { code: 'BAD_INPUT' });
    const reg = { ...dataset(), task: 'regression' as const, numLabels: 1 };
    assert.throws(() => splitDataset(reg, { evalFraction: 0.5, seed: 1, stratify: true }), { code: 'BAD_INPUT' });
  });
});

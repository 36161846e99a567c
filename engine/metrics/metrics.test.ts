/**
 * Every expected value below is worked out by hand in the comments (and agrees with sklearn/scipy), so a
 * wrong formula, a wrong averaging rule or a wrong tie rule fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracy,
  binaryPRF,
  computeMetrics,
  higherIsBetter,
  isImprovement,
  macroPRF,
  matthewsCorrcoef,
  microPRF,
  mse,
  multiHot,
  pearson,
  primaryMetric,
  rankAverage,
  spearman,
  subsetAccuracy,
} from './index';

const close = (actual: number, expected: number, eps = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

describe('binary classification', () => {
  // i:      0  1  2  3  4  5  6  7
  const y = [1, 1, 1, 0, 0, 0, 0, 1];
  const p = [1, 0, 1, 1, 0, 0, 0, 0];
  // tp (1,1): i0 i2 → 2; fp (pred 1, true 0): i3 → 1; fn (pred 0, true 1): i1 i7 → 2; tn: i4 i5 i6 → 3.

  it('accuracy = (tp + tn) / n = 5/8', () => close(accuracy(p, y), 5 / 8));

  it('precision 2/3, recall 2/4, F1 = 2·2 / (2·2 + 1 + 2) = 4/7 for class 1', () => {
    const s = binaryPRF(p, y);
    close(s.precision, 2 / 3);
    close(s.recall, 1 / 2);
    close(s.f1, 4 / 7);
  });

  it('positive class is configurable: class 0 has tp 3, fp 2, fn 1 → F1 6/9', () => {
    close(binaryPRF(p, y, 0).f1, 2 / 3);
  });

  it('MCC = (tp·tn − fp·fn) / √((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (6 − 2) / √(3·4·4·5) = 1/√15', () => {
    close(matthewsCorrcoef(p, y), 1 / Math.sqrt(15));
  });
});

describe('three classes', () => {
  const y = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
  const p = [0, 0, 1, 1, 1, 2, 2, 2, 0, 1];
  // Confusion matrix, rows = true, columns = predicted:
  //          p0 p1 p2 | t_k
  //   t0  [   2  1  0 ]  3
  //   t1  [   0  2  1 ]  3
  //   t2  [   1  1  2 ]  4
  //   p_k     3  4  3   s = 10, correct c = 6
  // class 0: tp 2, fp 0+1 = 1, fn 1+0 = 1 → P 2/3, R 2/3, F1 4/6
  // class 1: tp 2, fp 1+1 = 2, fn 0+1 = 1 → P 2/4, R 2/3, F1 4/7
  // class 2: tp 2, fp 0+1 = 1, fn 1+1 = 2 → P 2/3, R 2/4, F1 4/7

  it('accuracy 6/10', () => close(accuracy(p, y), 0.6));

  it('macro F1 = (2/3 + 4/7 + 4/7) / 3 = 38/63; macro P = macro R = 11/18', () => {
    const m = macroPRF(p, y);
    close(m.f1, 38 / 63);
    close(m.precision, 11 / 18);
    close(m.recall, 11 / 18);
  });

  it('MCC: (c·s − Σt_k·p_k) / √((s² − Σp_k²)(s² − Σt_k²)) = (60 − 33) / √(66·66) = 9/22', () => {
    // Σ t_k p_k = 3·3 + 3·4 + 4·3 = 33; Σ p_k² = 9 + 16 + 9 = 34; Σ t_k² = 9 + 9 + 16 = 34.
    close(matthewsCorrcoef(p, y), 9 / 22);
  });

  it('macro F1 averages over classes in labels ∪ predictions, not over 0..numLabels-1', () => {
    // Class 2 is only predicted: class 0 tp 1 fn 1 → F1 2/3; class 1 tp 2 → 1; class 2 fp 1 → 0.
    // Mean over {0, 1, 2} = 5/9 (over four classes it would be 5/12; over {0, 1} only, 5/6).
    close(macroPRF([0, 2, 1, 1], [0, 0, 1, 1]).f1, 5 / 9);
  });
});

describe('classification edge cases', () => {
  it('MCC is 0, not NaN, when all labels (or all predictions) are one class', () => {
    assert.equal(matthewsCorrcoef([1, 1, 1], [1, 1, 1]), 0);
    assert.equal(matthewsCorrcoef([0, 1, 0], [1, 1, 1]), 0);
    assert.equal(matthewsCorrcoef([1, 1, 1], [0, 1, 0]), 0);
  });

  it('zero division gives 0: no positive predicted or present', () => {
    assert.deepEqual(binaryPRF([0, 0, 0], [0, 0, 0]), { precision: 0, recall: 0, f1: 0 });
    // Never predicted positive: precision 0/0 → 0, recall 0/2 = 0, F1 0.
    assert.deepEqual(binaryPRF([0, 0, 0], [1, 0, 1]), { precision: 0, recall: 0, f1: 0 });
  });

  it('perfect predictions score 1', () => {
    assert.equal(accuracy([2, 0, 1], [2, 0, 1]), 1);
    assert.equal(macroPRF([2, 0, 1], [2, 0, 1]).f1, 1);
    assert.equal(matthewsCorrcoef([2, 0, 1], [2, 0, 1]), 1);
  });

  it('mismatched or empty inputs are BAD_INPUT, not a number', () => {
    assert.throws(() => accuracy([1, 0], [1]), { code: 'BAD_INPUT' });
    assert.throws(() => matthewsCorrcoef([], []), { code: 'BAD_INPUT' });
  });
});

describe('regression', () => {
  const x = [1, 2, 3, 4];
  const y = [2, 4, 5, 9];
  // x̄ 2.5, ȳ 5; dx = −1.5 −0.5 0.5 1.5, dy = −3 −1 0 4
  // Σdx·dy = 4.5 + 0.5 + 0 + 6 = 11; Σdx² = 5; Σdy² = 26.

  it('Pearson = 11 / √(5·26) = 11/√130', () => close(pearson(x, y), 11 / Math.sqrt(130)));

  it('MSE = (1 + 4 + 4 + 25) / 4 = 8.5', () => close(mse(x, y), 8.5));

  it('average ranks for ties, as scipy.stats.rankdata', () => {
    // Sorted: 1 → rank 1; the two 2s share ranks 2 and 3 → 2.5 each; 3 → 4; 4 → 5.
    assert.deepEqual(rankAverage([1, 2, 2, 3, 4]), [1, 2.5, 2.5, 4, 5]);
    assert.deepEqual(rankAverage([5, 5, 5]), [2, 2, 2]);
  });

  it('Spearman with ties on both sides = Pearson of average ranks = 29/38', () => {
    // rx = [1, 2.5, 2.5, 4, 5], ry = [2, 1, 3.5, 3.5, 5]; both have mean 3.
    // dx = −2 −0.5 −0.5 1 2; dy = −1 −2 0.5 0.5 2
    // Σdx·dy = 2 + 1 − 0.25 + 0.5 + 4 = 7.25; Σdx² = 9.5; Σdy² = 9.5 → 7.25 / 9.5 = 29/38.
    // (The no-ties shortcut 1 − 6Σd²/(n(n²−1)) would give 1 − 6·4.5/120 = 0.775: this test tells them apart.)
    close(spearman([1, 2, 2, 3, 4], [2, 1, 4, 4, 5]), 29 / 38);
  });

  it('Spearman of a monotone but non-linear relation is 1, Pearson is below it', () => {
    assert.equal(spearman(x, y), 1);
    assert.ok(pearson(x, y) < 1);
  });

  it('a constant series has correlation 0 (scipy: nan), never NaN', () => {
    assert.equal(pearson([3, 3, 3], [1, 2, 3]), 0);
    assert.equal(spearman([1, 2, 3], [7, 7, 7]), 0);
  });
});

describe('multi-label', () => {
  const y = [
    [1, 0, 1],
    [0, 1, 0],
    [1, 1, 0],
  ];
  const p = [
    [1, 0, 0], // tp 1, fn 1
    [0, 1, 0], // tp 1: the only exact row
    [1, 0, 1], // tp 1, fn 1, fp 1
  ];

  it('micro F1 pools all decisions: tp 3, fp 1, fn 2 → P 3/4, R 3/5, F1 6/9', () => {
    const m = microPRF(p, y);
    close(m.precision, 3 / 4);
    close(m.recall, 3 / 5);
    close(m.f1, 2 / 3);
  });

  it('subset accuracy counts exact rows only: 1/3', () => close(subsetAccuracy(p, y), 1 / 3));

  it('multiHot thresholds scores; non-0/1 predictions are refused', () => {
    assert.deepEqual(multiHot([[-1, 0.5, 0]], 0), [[0, 1, 0]]);
    assert.throws(() => microPRF([[0.9, 0, 0]], [[1, 0, 0]]), { code: 'BAD_INPUT' });
  });
});

describe('computeMetrics', () => {
  it('binary classification from logits: argmax, then every key', () => {
    // argmax rows → [1, 0, 1, 1]; labels [1, 0, 0, 1]: tp 2, fp 1, fn 0, tn 1.
    const logits = [
      [0.1, 0.9],
      [2, -1],
      [0, 3],
      [-5, 5],
    ];
    const m = computeMetrics('classification', logits, [1, 0, 0, 1], 2);
    assert.deepEqual(Object.keys(m).sort(), ['accuracy', 'f1', 'macro_f1', 'mcc', 'precision', 'recall']);
    close(m.accuracy, 3 / 4);
    close(m.precision, 2 / 3);
    close(m.recall, 1);
    close(m.f1, 4 / 5); // 2·2 / (4 + 1 + 0)
    // class 0: tp 1, fp 0, fn 1 → F1 2/3; class 1: 4/5 → macro (2/3 + 4/5) / 2 = 11/15
    close(m.macro_f1, 11 / 15);
    // (tp·tn − fp·fn) / √((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2 − 0) / √(3·2·2·1) = 2/√12
    close(m.mcc, 2 / Math.sqrt(12));
  });

  it('multi-class has no binary f1 key', () => {
    const m = computeMetrics('classification', [0, 0, 1, 1, 1, 2, 2, 2, 0, 1], [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 3);
    assert.equal(m.f1, undefined);
    close(m.macro_f1, 38 / 63);
    close(m.mcc, 9 / 22);
  });

  it('regression: pearson_spearman is their mean (GLUE STS-B); one-element rows are accepted', () => {
    const m = computeMetrics('regression', [[1], [2], [3], [4]], [2, 4, 5, 9], 1);
    close(m.pearson, 11 / Math.sqrt(130));
    close(m.spearman, 1);
    close(m.pearson_spearman, (11 / Math.sqrt(130) + 1) / 2);
    close(m.mse, 8.5);
  });

  it('multi_label keys', () => {
    const m = computeMetrics('multi_label', [[1, 0], [0, 0]], [[1, 0], [0, 1]], 2);
    // tp 1, fp 0, fn 1 → F1 2/3; row 0 exact → subset accuracy 1/2
    close(m.micro_f1, 2 / 3);
    close(m.subset_accuracy, 1 / 2);
  });

  it('primary metric per task, and which direction improves', () => {
    assert.equal(primaryMetric('classification'), 'accuracy');
    assert.equal(primaryMetric('regression'), 'pearson_spearman');
    assert.equal(primaryMetric('multi_label'), 'micro_f1');
    assert.equal(higherIsBetter('mse'), false);
    assert.equal(higherIsBetter('accuracy'), true);
    assert.equal(isImprovement('accuracy', 0.8, 0.7), true);
    assert.equal(isImprovement('accuracy', 0.7, 0.7), false);
    assert.equal(isImprovement('mse', 0.5, 0.7), true);
    assert.equal(isImprovement('accuracy', Number.NaN, undefined), false);
    assert.equal(isImprovement('accuracy', 0.1, undefined), true);
  });
});

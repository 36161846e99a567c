/**
 * ParamStore's caches of frozen weights: Wᵀ and stacked [W₁; W₂; …] with its transpose are made once, only
 * for frozen 2-D tensors, rebuilt when one of their tensors is replaced, and freed with the store.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf } from '../backend/tf';
import { initBackend } from '../backend/select';
import { ParamStore } from './params';

describe('ParamStore frozen-weight caches', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('stacks frozen weights along the output axis, with the transpose, once', async () => {
    const p = new ParamStore();
    p.set('q.weight', tf.tensor2d([[1, 2], [3, 4]]));
    p.set('k.weight', tf.tensor2d([[5, 6]]));
    const s = p.frozenStacked(['q.weight', 'k.weight'])!;
    assert.deepEqual(await s.w.array(), [[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(await s.wt.array(), [[1, 3, 5], [2, 4, 6]]);
    assert.equal(p.frozenStacked(['q.weight', 'k.weight']), s, 'cached');
    assert.notEqual(p.frozenStacked(['k.weight', 'q.weight']), s, 'another order is another stack');
    p.dispose();
  });

  it('rebuilds a stack when one of its weights is replaced, and frees the old one', async () => {
    const p = new ParamStore();
    p.set('q.weight', tf.tensor2d([[1, 2]]));
    p.set('k.weight', tf.tensor2d([[3, 4]]));
    const old = p.frozenStacked(['q.weight', 'k.weight'])!;
    p.set('k.weight', tf.tensor2d([[7, 8]]));
    assert.ok(old.w.isDisposed && old.wt.isDisposed);
    assert.deepEqual(await p.frozenStacked(['q.weight', 'k.weight'])!.w.array(), [[1, 2], [7, 8]]);
    p.dispose();
  });

  it('declines trainable, non-2-D or mismatched weights', () => {
    const p = new ParamStore();
    p.set('a.weight', tf.zeros([2, 3]));
    p.set('b.weight', tf.variable(tf.zeros([2, 3])));
    p.set('c.weight', tf.zeros([2, 4]));
    p.set('d.bias', tf.zeros([3]));
    assert.equal(p.frozenStacked(['a.weight', 'b.weight']), undefined, 'a Variable changes every step');
    assert.equal(p.frozenStacked(['a.weight', 'c.weight']), undefined, 'input sizes differ');
    assert.equal(p.frozenStacked(['a.weight', 'd.bias']), undefined);
    assert.equal(p.frozenTransposed('b.weight'), undefined);
    p.dispose();
  });

  it('dispose frees the weights and every cache', () => {
    const start = tf.memory().numTensors;
    const p = new ParamStore();
    p.set('q.weight', tf.ones([4, 2]));
    p.set('k.weight', tf.ones([4, 2]));
    p.frozenTransposed('q.weight');
    p.frozenStacked(['q.weight', 'k.weight']);
    p.dispose();
    assert.equal(tf.memory().numTensors, start);
  });
});

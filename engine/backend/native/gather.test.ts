/**
 * The row-copy GatherV2 on the wasm backend (installed with the native kernels): bit-identical to the cpu
 * backend and the stock wasm kernel over axes, index shapes and dtypes, the stock error for out-of-range
 * ids, and the stock kernel for batchDims > 0. Without the addon these tests skip locally and fail under CI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { loadAddon } from './addon';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { requireAddon } from './test-support';

const skip = requireAddon(loadAddon());

interface GatherCase {
  name: string;
  x: number[];
  dtype: 'float32' | 'int32' | 'bool';
  indices: number[][] | number[];
  axis: number;
  batchDims?: number;
}

const CASES: GatherCase[] = [
  { name: 'embedding rows, [2, 3] ids', x: [30, 8], dtype: 'float32', indices: [[5, 0, 29], [5, 7, 7]], axis: 0 },
  { name: 'axis 1 of a rank-3 tensor', x: [4, 6, 3], dtype: 'float32', indices: [5, 0, 2, 2], axis: 1 },
  { name: 'last axis (one element per copy)', x: [3, 5], dtype: 'float32', indices: [4, 1], axis: -1 },
  { name: 'int32', x: [10, 3], dtype: 'int32', indices: [9, 0, 4], axis: 0 },
  { name: 'bool', x: [10, 3], dtype: 'bool', indices: [1, 2, 9], axis: 0 },
  { name: 'no ids', x: [10, 3], dtype: 'float32', indices: [], axis: 0 },
  { name: 'batchDims 1 (stock)', x: [2, 5, 3], dtype: 'float32', indices: [[0, 4], [3, 3]], axis: 1, batchDims: 1 },
];

function input(c: GatherCase, seed: number): tf.Tensor {
  const values = Array.from({ length: tf.util.sizeFromShape(c.x) }, (_, i) => (c.dtype === 'float32' ? Math.sin(seed + i) * 100 : (seed * 31 + i * 7) % 5));
  return tf.tensor(values, c.x, c.dtype);
}

async function gather(c: GatherCase, seed: number) {
  const x = input(c, seed);
  const ids = tf.tensor(c.indices, undefined, 'int32');
  const out = tf.gather(x, ids, c.axis, c.batchDims);
  const result = { shape: out.shape, data: Array.from(await out.data()) };
  tf.dispose([x, ids, out]);
  return result;
}

describe('row-copy GatherV2 on the wasm backend', { skip }, () => {
  let stockCalls = 0;
  let stock: tf.KernelConfig;
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    // Selecting wasm installs the native kernels; these tests start from the stock ones.
    uninstallNativeKernels();
    // Count calls of the stock kernel: install captures this wrapper as the fallback it delegates to.
    stock = tf.getKernel('GatherV2', 'wasm')!;
    tf.unregisterKernel('GatherV2', 'wasm');
    tf.registerKernel({ ...stock, kernelFunc: (args) => ((stockCalls += 1), stock.kernelFunc(args)) });
  });
  after(() => {
    uninstallNativeKernels();
    tf.unregisterKernel('GatherV2', 'wasm');
    tf.registerKernel(stock);
  });

  it('matches the cpu backend and the stock wasm kernel exactly, and declines batchDims > 0', async () => {
    await tf.setBackend('cpu');
    const cpu = [];
    for (const [i, c] of CASES.entries()) cpu.push(await gather(c, i));
    await tf.setBackend('wasm');
    uninstallNativeKernels();
    const stock = [];
    for (const [i, c] of CASES.entries()) stock.push(await gather(c, i));
    assert.equal(installNativeKernels().active, true);
    for (const [i, c] of CASES.entries()) {
      const before = stockCalls;
      const got = await gather(c, i);
      assert.equal(stockCalls - before, c.batchDims ? 1 : 0, `${c.name}: stock kernel calls`);
      assert.deepEqual(got, cpu[i], `${c.name} vs cpu`);
      assert.deepEqual(got, stock[i], `${c.name} vs stock wasm`);
    }
  });

  it('rejects out-of-range ids with the stock message, and allocates nothing then', () => {
    installNativeKernels();
    const x = tf.zeros([4, 2]);
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    for (const bad of [4, -1]) {
      const ids = tf.tensor1d([0, bad], 'int32');
      assert.throws(() => tf.gather(x, ids), new RegExp(`GatherV2: the index value ${bad} is not in \\[0, 3\\]`));
      ids.dispose();
    }
    assert.equal(backend.numDataIds(), before);
    x.dispose();
  });
});

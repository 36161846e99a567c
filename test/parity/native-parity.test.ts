/**
 * The HF parity suites (parity.test.ts, train-parity.test.ts) again, on the wasm backend with the native
 * matMul kernels installed, with their own tolerances unchanged. Each file runs in a child process that
 * native-kernels.preload.ts sets up. Without the addon this skips locally and fails under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon } from '../../engine/backend/native/addon';
import { requireAddon } from '../../engine/backend/native/test-support';

const skip = requireAddon(loadAddon());
const SUITES = ['parity.test.ts', 'train-parity.test.ts', 'lora-parity.test.ts', 'adapters-parity.test.ts', 'prompt-parity.test.ts'];
/** Method suites also run on the stock wasm kernels (PEFT_STUDIO_NATIVE=0): a method must be exact on both. */
const STOCK_SUITES = ['lora-parity.test.ts', 'adapters-parity.test.ts', 'prompt-parity.test.ts'];

function runSuite(suite: string, native: boolean): string {
  const env: NodeJS.ProcessEnv = { ...process.env, PEFT_STUDIO_BACKEND: 'wasm' };
  // Run the file as a plain script: with the runner's child marker inherited it would report in the
  // runner's binary protocol instead of text.
  delete env.NODE_TEST_CONTEXT;
  delete env.PEFT_STUDIO_NATIVE;
  if (!native) env.PEFT_STUDIO_NATIVE = '0';
  const preload = native ? ['--import', path.join(__dirname, 'native-kernels.preload.ts')] : [];
  const args = ['--import', 'tsx', ...preload, '--test-reporter=spec', path.join(__dirname, suite)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, cwd: path.resolve(__dirname, '../..') });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `${suite} failed ${native ? 'with' : 'without'} native kernels:\n${output.slice(-4000)}`);
  assert.match(output, /ℹ pass [1-9]/, 'no parity test ran');
  assert.match(output, /ℹ fail 0/);
  return output;
}

describe('method parity on the stock wasm kernels (native kernels off)', () => {
  for (const suite of STOCK_SUITES) it(`${suite} passes`, () => void runSuite(suite, false));
});

describe('HF parity on wasm with native matMul kernels', { skip }, () => {
  for (const suite of SUITES) {
    it(`${suite} passes`, () => {
      const output = runSuite(suite, true);
      assert.match(output, /native kernels \(\w+, \d+ threads\) ran \d+ products/);
    });
  }
});

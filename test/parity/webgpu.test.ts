/**
 * The HF parity suites (parity.test.ts, train-parity.test.ts) again, on the webgpu backend, with their own
 * tolerances unchanged. WebGPU runs on SwiftShader (Vulkan on the CPU, from the chromium package), so this
 * checks the webgpu kernels' arithmetic on any machine; SwiftShader must be set up before a process starts,
 * so each suite runs in a child process with that environment and PEFT_STUDIO_BACKEND=webgpu.
 * Without chromium or the `webgpu` package this skips locally and fails under CI, which installs both.
 * The optimizer suite takes minutes on SwiftShader (about 650 tiny dispatches a step, each costing
 * milliseconds of emulation), so locally it runs only with PEFT_STUDIO_WEBGPU_TRAIN_PARITY=1; CI always runs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { swiftShaderEnv } from '../../engine/backend/webgpu-swiftshader';

const SUITES: Record<string, { ranOnWebGpu: RegExp; slow: boolean }> = {
  // Lines each suite prints only when it ran on webgpu: the test's backend line, the optimizer's diagnostics.
  'parity.test.ts': { ranOnWebGpu: /backend: webgpu on .*swiftshader/i, slow: false },
  'train-parity.test.ts': { ranOnWebGpu: /webgpu bias_only: max \|Δloss\|/, slow: true },
};

function missingPrerequisite(): string | undefined {
  const sw = swiftShaderEnv();
  if (!sw.ok) return sw.reason;
  try {
    require.resolve('webgpu');
  } catch {
    return 'the optional webgpu package is not installed';
  }
  return undefined;
}

const missing = missingPrerequisite();
const inCi = !!process.env.CI && process.env.CI !== 'false';
const runSlow = inCi || process.env.PEFT_STUDIO_WEBGPU_TRAIN_PARITY === '1';

describe('HF parity on webgpu (SwiftShader)', { skip: missing && !inCi ? missing : false }, () => {
  if (missing) {
    it('has SwiftShader and the webgpu package', () => {
      assert.fail(`${missing}. CI must install chromium (scripts/e2e/setup.sh does) before the parity tests run.`);
    });
    return;
  }
  for (const [suite, { ranOnWebGpu, slow }] of Object.entries(SUITES)) {
    const skip = slow && !runSlow ? 'minutes on SwiftShader: set PEFT_STUDIO_WEBGPU_TRAIN_PARITY=1 to run it (CI always does)' : false;
    it(`${suite} passes`, { skip }, () => {
      const sw = swiftShaderEnv();
      assert.ok(sw.ok);
      const env: NodeJS.ProcessEnv = { ...sw.env, PEFT_STUDIO_BACKEND: 'webgpu' };
      // Run the file as a plain script: with the runner's child marker inherited it would report in the
      // runner's binary protocol instead of text.
      delete env.NODE_TEST_CONTEXT;
      const args = ['--import', 'tsx', '--test-reporter=tap', path.join(__dirname, suite)];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, cwd: path.resolve(__dirname, '../..'), maxBuffer: 1 << 26 });
      const output = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.status, 0, `${suite} failed on webgpu:\n${output.slice(-4000)}`);
      assert.match(output, ranOnWebGpu, `${suite} did not run on webgpu:\n${output.slice(-4000)}`);
      assert.match(output, /^# fail 0$/m);
      const passed = Number(/^# pass (\d+)$/m.exec(output)?.[1] ?? 0);
      assert.ok(passed >= 1, `${suite}: no test passed:\n${output.slice(-4000)}`);
    });
  }
});

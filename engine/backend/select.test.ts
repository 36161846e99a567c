/**
 * Backend selection: the auto order and its fall-through (with every skip explained), forced backends that
 * fail loudly instead of falling back, PEFT_STUDIO_BACKEND, and the real loaders on this machine (webgpu
 * also on SwiftShader, where chromium provides it).
 * Injected loaders stand in for packages so the order and the error paths can be driven deterministically.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { BACKEND_NAMES, describeBackend, initBackend, parseBackendEnv, type BackendLoader, type BackendName, type BackendReport } from './select';
import { tf } from './tf';
import { probeAdapter } from './webgpu';
import { swiftShaderEnv } from './webgpu-swiftshader';

/** Loaders that record their calls; each either throws `fail[name]` or "loads" and returns `fake-<name>`. */
function fakeLoaders(fail: Partial<Record<BackendName, string>>) {
  const calls: BackendName[] = [];
  const loaders = Object.fromEntries(
    BACKEND_NAMES.map((name): [BackendName, BackendLoader] => [
      name,
      async () => {
        calls.push(name);
        const reason = fail[name];
        if (reason !== undefined) throw new Error(reason);
        return `fake-${name}`;
      },
    ]),
  ) as Record<BackendName, BackendLoader>;
  return { loaders, calls };
}

async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<PeftStudioError> {
  let caught: PeftStudioError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PeftStudioError, `expected PeftStudioError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const re of patterns) assert.match(e.message, re);
    caught = e;
    return true;
  });
  return caught!;
}

const ENV = 'PEFT_STUDIO_BACKEND';
let savedEnv: string | undefined;
beforeEach(() => {
  savedEnv = process.env[ENV];
  delete process.env[ENV];
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env[ENV];
  else process.env[ENV] = savedEnv;
});
after(async () => {
  // Leave a real, working backend active (and recorded as current) for anything after this file's tests.
  delete process.env[ENV];
  await initBackend({ backend: 'cpu', reinit: true });
  assert.equal(tf.getBackend(), 'cpu');
});

describe('initBackend with injected loaders', () => {
  it('tries tensorflow-gpu, webgpu, tensorflow, wasm, cpu in that order and stops at the first that loads', async () => {
    const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'no CUDA here', webgpu: 'no adapter', tensorflow: 'libtensorflow missing' });
    const r = await initBackend({ loaders, reinit: true });
    assert.deepEqual(calls, ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm'], 'cpu must not be tried once wasm loads');
    assert.equal(r.active, 'wasm');
    assert.equal(r.tfBackend, 'fake-wasm');
    assert.equal(r.forced, false);
    assert.deepEqual(r.attempts, [
      { name: 'tensorflow-gpu', ok: false, reason: 'no CUDA here' },
      { name: 'webgpu', ok: false, reason: 'no adapter' },
      { name: 'tensorflow', ok: false, reason: 'libtensorflow missing' },
      { name: 'wasm', ok: true },
    ]);
  });

  it('webgpu comes right after tensorflow-gpu: it is picked over the CPU backends when it loads', async () => {
    const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'no CUDA here' });
    const r = await initBackend({ loaders, reinit: true });
    assert.deepEqual(calls, ['tensorflow-gpu', 'webgpu']);
    assert.equal(r.active, 'webgpu');
  });

  it('tells each loader whether it was forced (webgpu takes a software adapter only then)', async () => {
    const seen: Array<[BackendName, boolean]> = [];
    const record = (name: BackendName, fail?: string): BackendLoader => async ({ forced }) => {
      seen.push([name, forced]);
      if (fail) throw new Error(fail);
      return name;
    };
    const loaders = { 'tensorflow-gpu': record('tensorflow-gpu', 'x'), webgpu: record('webgpu') };
    await initBackend({ loaders, reinit: true });
    await initBackend({ backend: 'webgpu', loaders });
    assert.deepEqual(seen, [['tensorflow-gpu', false], ['webgpu', false], ['webgpu', true]]);
  });

  it('carries a loader\'s device and note into the report and the description', async () => {
    const loaders: Partial<Record<BackendName, BackendLoader>> = {
      webgpu: async () => ({ tfBackend: 'webgpu', device: 'google swiftshader (SwiftShader driver 5.0.0)', note: 'software (fallback) adapter' }),
    };
    const r = await initBackend({ backend: 'webgpu', loaders });
    assert.equal(r.tfBackend, 'webgpu');
    assert.equal(r.device, 'google swiftshader (SwiftShader driver 5.0.0)');
    assert.equal(r.note, 'software (fallback) adapter');
    assert.equal(describeBackend(r), 'backend: webgpu on google swiftshader (SwiftShader driver 5.0.0) (forced; software (fallback) adapter)');
    const plain = await initBackend({ backend: 'cpu', loaders: fakeLoaders({}).loaders });
    assert.ok(!('device' in plain) && !('note' in plain), 'a loader that returns a name adds no device or note');
  });

  it('picks the fastest when it loads, and falls through to cpu when all faster ones fail', async () => {
    const first = fakeLoaders({});
    const r1 = await initBackend({ loaders: first.loaders, reinit: true });
    assert.equal(r1.active, 'tensorflow-gpu');
    assert.deepEqual(first.calls, ['tensorflow-gpu']);
    assert.deepEqual(r1.attempts, [{ name: 'tensorflow-gpu', ok: true }]);

    const last = fakeLoaders({ 'tensorflow-gpu': 'g', webgpu: 'u', tensorflow: 't', wasm: 'w' });
    const r2 = await initBackend({ loaders: last.loaders, reinit: true });
    assert.equal(r2.active, 'cpu');
    assert.deepEqual(last.calls, ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    assert.deepEqual(
      r2.attempts.map((a) => [a.name, a.ok, a.reason]),
      [['tensorflow-gpu', false, 'g'], ['webgpu', false, 'u'], ['tensorflow', false, 't'], ['wasm', false, 'w'], ['cpu', true, undefined]],
    );
  });

  it('when nothing loads, throws BACKEND listing every backend with its reason', async () => {
    const { loaders } = fakeLoaders({ 'tensorflow-gpu': 'reason-g', webgpu: 'reason-u', tensorflow: 'reason-t', wasm: 'reason-w', cpu: 'reason-c' });
    await rejectsWith(initBackend({ loaders, reinit: true }), 'BACKEND', /tensorflow-gpu: reason-g/, /webgpu: reason-u/, /tensorflow: reason-t/, /wasm: reason-w/, /cpu: reason-c/);
  });

  it('a forced backend that fails is an error naming it, with no fallback to the others', async () => {
    const { loaders, calls } = fakeLoaders({ tensorflow: 'libtensorflow.so: cannot open shared object file' });
    const e = await rejectsWith(initBackend({ backend: 'tensorflow', loaders }), 'BACKEND', /"tensorflow"/, /cannot open shared object file/);
    assert.deepEqual(calls, ['tensorflow'], 'no other loader may run for a forced backend');
    assert.doesNotMatch(e.message, /wasm|cpu/);
  });

  it('a forced backend that loads is reported as forced, and only it is tried', async () => {
    const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'would have failed' });
    const r = await initBackend({ backend: 'cpu', loaders });
    assert.deepEqual(calls, ['cpu']);
    assert.equal(r.active, 'cpu');
    assert.equal(r.forced, true);
    assert.deepEqual(r.attempts, [{ name: 'cpu', ok: true }]);
  });

  it('keeps the active backend on later calls unless asked to re-select', async () => {
    const a = fakeLoaders({ 'tensorflow-gpu': 'x' });
    const r1 = await initBackend({ loaders: a.loaders, reinit: true });
    const b = fakeLoaders({});
    const r2 = await initBackend({ loaders: b.loaders });
    assert.equal(r2, r1, 'a second call without reinit returns the current report');
    assert.deepEqual(b.calls, [], 'and loads nothing');
  });
});

describe('concurrent initBackend calls', () => {
  /** Async loaders (like wasm's) that count how many loads are in flight at once. */
  function slowLoaders(fail: Partial<Record<BackendName, string>> = {}) {
    const state = { inFlight: 0, maxInFlight: 0, calls: [] as BackendName[] };
    const loaders = Object.fromEntries(
      BACKEND_NAMES.map((name): [BackendName, BackendLoader] => [
        name,
        async () => {
          state.calls.push(name);
          state.inFlight++;
          state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
          await new Promise((r) => setTimeout(r, 5));
          state.inFlight--;
          if (fail[name] !== undefined) throw new Error(fail[name]);
          return name;
        },
      ]),
    ) as Record<BackendName, BackendLoader>;
    return { loaders, state };
  }

  it('run one at a time (TF.js setBackend cannot interleave) and all get the same answer', async () => {
    const { loaders, state } = slowLoaders({ 'tensorflow-gpu': 'x', webgpu: 'z', tensorflow: 'y' });
    const reports = await Promise.all([1, 2, 3].map(() => initBackend({ loaders, reinit: true })));
    assert.equal(state.maxInFlight, 1, 'backend loads overlapped');
    for (const r of reports) {
      assert.equal(r.active, 'wasm');
      assert.deepEqual(r.attempts.map((a) => a.name), ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm']);
    }
  });

  it('a failing call does not block or break the calls queued after it', async () => {
    const { loaders } = slowLoaders({ tensorflow: 'missing' });
    const [bad, good] = await Promise.allSettled([initBackend({ backend: 'tensorflow', loaders }), initBackend({ backend: 'cpu', loaders })]);
    assert.equal(bad.status, 'rejected');
    assert.equal(good.status, 'fulfilled');
    assert.equal((good as PromiseFulfilledResult<{ active: string }>).value.active, 'cpu');
  });
});

describe('PEFT_STUDIO_BACKEND', () => {
  it('forces the named backend (no fallback) when no backend is passed', async () => {
    process.env[ENV] = 'cpu';
    const ok = fakeLoaders({});
    const r = await initBackend({ loaders: ok.loaders, reinit: true });
    assert.deepEqual(ok.calls, ['cpu'], 'tensorflow-gpu would have loaded first in auto mode');
    assert.equal(r.active, 'cpu');
    assert.equal(r.forced, true);

    process.env[ENV] = 'tensorflow';
    const bad = fakeLoaders({ tensorflow: 'not here' });
    await rejectsWith(initBackend({ loaders: bad.loaders, reinit: true }), 'BACKEND', /"tensorflow"/, /not here/);
    assert.deepEqual(bad.calls, ['tensorflow']);
  });

  it('"auto" and "" mean the normal order', async () => {
    for (const value of ['auto', '']) {
      process.env[ENV] = value;
      const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'x', webgpu: 'y' });
      const r = await initBackend({ loaders, reinit: true });
      assert.deepEqual(calls, ['tensorflow-gpu', 'webgpu', 'tensorflow'], `value ${JSON.stringify(value)}`);
      assert.equal(r.active, 'tensorflow');
      assert.equal(r.forced, false);
    }
  });

  it('an explicit backend option wins over the variable', async () => {
    process.env[ENV] = 'cpu';
    const { loaders, calls } = fakeLoaders({});
    const r = await initBackend({ backend: 'wasm', loaders });
    assert.deepEqual(calls, ['wasm']);
    assert.equal(r.active, 'wasm');
  });

  it('an invalid value is a clear BACKEND error listing the choices, and loads nothing', async () => {
    process.env[ENV] = 'gpu';
    const { loaders, calls } = fakeLoaders({});
    const e = await rejectsWith(initBackend({ loaders, reinit: true }), 'BACKEND', /PEFT_STUDIO_BACKEND/, /"gpu"/);
    for (const name of ['auto', ...BACKEND_NAMES]) assert.ok(e.message.includes(name), `choices should include ${name}: ${e.message}`);
    assert.deepEqual(calls, []);
    assert.throws(() => parseBackendEnv('WASM'), PeftStudioError, 'names are case-sensitive, as documented');
    assert.equal(parseBackendEnv(undefined), undefined);
    assert.equal(parseBackendEnv('tensorflow-gpu'), 'tensorflow-gpu');
  });
});

describe('BACKEND_NAMES', () => {
  it('is what the extension\'s peftStudio.backend setting offers, in the same order, after "auto"', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    const setting = pkg.contributes.configuration.properties['peftStudio.backend'];
    assert.deepEqual(setting.enum, ['auto', ...BACKEND_NAMES]);
    assert.equal(setting.enumDescriptions.length, setting.enum.length, 'one description per choice');
  });
});

describe('describeBackend', () => {
  it('names the active backend and every skipped one with its reason', async () => {
    const { loaders } = fakeLoaders({ 'tensorflow-gpu': 'no CUDA driver', webgpu: 'only a software (fallback) adapter: X', tensorflow: 'not installed (optional)' });
    const line = describeBackend(await initBackend({ loaders, reinit: true }));
    assert.match(line, /^backend: wasm\b/);
    assert.match(line, /tensorflow-gpu: no CUDA driver/);
    assert.match(line, /webgpu: only a software \(fallback\) adapter: X/);
    assert.match(line, /tensorflow: not installed \(optional\)/);
    assert.match(line, /skipped/);
  });

  it('says "forced" for a forced backend and "fastest available" when nothing was skipped', async () => {
    assert.equal(describeBackend(await initBackend({ backend: 'cpu', loaders: fakeLoaders({}).loaders })), 'backend: cpu (forced)');
    const line = describeBackend(await initBackend({ loaders: fakeLoaders({}).loaders, reinit: true }));
    assert.equal(line, 'backend: tensorflow-gpu (fastest available)');
  });
});

describe('real loaders on this machine', () => {
  const nativeInstalled = resolves('@tensorflow/tfjs-node') || resolves('@tensorflow/tfjs-node-gpu');
  const skip = nativeInstalled ? 'a native TF.js package is installed here, so auto does not fall through to wasm' : false;

  it('auto skips the native backends as "not installed", webgpu for want of a hardware adapter, and runs on wasm', { skip }, async (t) => {
    const probe = await probeAdapter();
    if (probe.ok && !probe.fallback) return t.skip(`a hardware WebGPU adapter is here (${probe.name}), so auto picks webgpu`);
    const r = await initBackend({ reinit: true });
    assert.equal(r.active, 'wasm');
    assert.equal(r.tfBackend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm', 'the wasm backend must actually be current in TF.js');
    assert.deepEqual(r.attempts.map((a) => [a.name, a.ok]), [['tensorflow-gpu', false], ['webgpu', false], ['tensorflow', false], ['wasm', true]]);
    for (const a of [r.attempts[0]!, r.attempts[2]!]) assert.match(a.reason!, /not installed/, `${a.name}: ${a.reason}`);
    // The same reason the probe gives: no package, no adapter, or (named) only a software one.
    const webgpuReason = r.attempts[1]!.reason!;
    if (probe.ok) assert.ok(webgpuReason.startsWith(`only a software (fallback) adapter: ${probe.name}`), webgpuReason);
    else assert.equal(webgpuReason, probe.reason);
    const line = describeBackend(r);
    assert.match(line, /^backend: wasm/);
    assert.match(line, /tensorflow: not installed/);
    assert.ok(line.includes(`webgpu: ${webgpuReason}`), line);
    // And it computes: a real op on the selected backend.
    const t2 = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    assert.deepEqual(Array.from(await t2.data()), [4, 6]);
    t2.dispose();
  });

  it('forcing webgpu without any adapter fails with BACKEND "no adapter" instead of falling back', async (t) => {
    const probe = await probeAdapter();
    if (probe.ok || probe.kind !== 'no-adapter') return t.skip(probe.ok ? `an adapter is here (${probe.name})` : probe.reason);
    await rejectsWith(initBackend({ backend: 'webgpu' }), 'BACKEND', /"webgpu"/, /no adapter/);
  });

  it('forcing tensorflow fails with BACKEND "not installed" instead of falling back', { skip }, async () => {
    await rejectsWith(initBackend({ backend: 'tensorflow' }), 'BACKEND', /"tensorflow"/, /not installed/);
  });

  it('forcing cpu makes the TF.js cpu backend current', async () => {
    const r = await initBackend({ backend: 'cpu' });
    assert.equal(r.active, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
  });
});

describe('real webgpu loader on SwiftShader (a child process: Vulkan reads its setup at start-up)', () => {
  const sw = swiftShaderEnv();
  const missing = !sw.ok ? sw.reason : resolves('webgpu') ? undefined : 'the optional webgpu package is not installed';

  it('auto skips the software adapter by name; forced, webgpu loads on it, says so, and computes', { skip: missing ?? false }, () => {
    assert.ok(sw.ok);
    const script = `
      const { initBackend, describeBackend } = require('./engine/backend/select');
      const { tf } = require('./engine/backend/tf');
      (async () => {
        const auto = await initBackend();
        const forced = await initBackend({ backend: 'webgpu', reinit: true });
        const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]));
        const out = { auto, forced, line: describeBackend(forced), tfBackend: tf.getBackend(), product: Array.from(await product.data()) };
        console.log('RESULT ' + JSON.stringify(out));
      })().catch((e) => { console.log('ERROR ' + e.message); process.exitCode = 1; });`;
    const env: NodeJS.ProcessEnv = { ...sw.env };
    delete env.PEFT_STUDIO_BACKEND;
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env, cwd: path.resolve(__dirname, '../..') });
    const line = /^RESULT (.*)$/m.exec(r.stdout)?.[1];
    assert.ok(line, `child failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(line) as { auto: BackendReport; forced: BackendReport; line: string; tfBackend: string; product: number[] };
    const skipped = out.auto.attempts.find((a) => a.name === 'webgpu');
    assert.equal(skipped?.ok, false, 'auto must not pick a software adapter');
    assert.match(skipped!.reason!, /^only a software \(fallback\) adapter: google swiftshader .*\(SwiftShader driver [\d.]+\)/);
    assert.notEqual(out.auto.active, 'webgpu');
    assert.equal(out.forced.active, 'webgpu');
    assert.equal(out.forced.tfBackend, 'webgpu');
    assert.equal(out.tfBackend, 'webgpu', 'the webgpu backend must actually be current in TF.js');
    assert.match(out.forced.device!, /swiftshader/i);
    assert.match(out.forced.note!, /software \(fallback\) adapter/);
    assert.match(out.line, /^backend: webgpu on google swiftshader .* \(forced; software \(fallback\) adapter/);
    assert.deepEqual(out.product, [19, 22, 43, 50]);
  });
});

function resolves(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

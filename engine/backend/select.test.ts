/**
 * Backend selection: the auto order and its fall-through (with every skip explained), forced backends that
 * fail loudly instead of falling back, PEFT_STUDIO_BACKEND, and the real loaders on this machine.
 * Injected loaders stand in for packages so the order and the error paths can be driven deterministically.
 */
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { BACKEND_NAMES, describeBackend, initBackend, parseBackendEnv, type BackendLoader, type BackendName } from './select';
import { tf } from './tf';

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
  it('tries tensorflow-gpu, tensorflow, wasm, cpu in that order and stops at the first that loads', async () => {
    const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'no CUDA here', tensorflow: 'libtensorflow missing' });
    const r = await initBackend({ loaders, reinit: true });
    assert.deepEqual(calls, ['tensorflow-gpu', 'tensorflow', 'wasm'], 'cpu must not be tried once wasm loads');
    assert.equal(r.active, 'wasm');
    assert.equal(r.tfBackend, 'fake-wasm');
    assert.equal(r.forced, false);
    assert.deepEqual(r.attempts, [
      { name: 'tensorflow-gpu', ok: false, reason: 'no CUDA here' },
      { name: 'tensorflow', ok: false, reason: 'libtensorflow missing' },
      { name: 'wasm', ok: true },
    ]);
  });

  it('picks the fastest when it loads, and falls through to cpu when all faster ones fail', async () => {
    const first = fakeLoaders({});
    const r1 = await initBackend({ loaders: first.loaders, reinit: true });
    assert.equal(r1.active, 'tensorflow-gpu');
    assert.deepEqual(first.calls, ['tensorflow-gpu']);
    assert.deepEqual(r1.attempts, [{ name: 'tensorflow-gpu', ok: true }]);

    const last = fakeLoaders({ 'tensorflow-gpu': 'g', tensorflow: 't', wasm: 'w' });
    const r2 = await initBackend({ loaders: last.loaders, reinit: true });
    assert.equal(r2.active, 'cpu');
    assert.deepEqual(last.calls, ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    assert.deepEqual(
      r2.attempts.map((a) => [a.name, a.ok, a.reason]),
      [['tensorflow-gpu', false, 'g'], ['tensorflow', false, 't'], ['wasm', false, 'w'], ['cpu', true, undefined]],
    );
  });

  it('when nothing loads, throws BACKEND listing every backend with its reason', async () => {
    const { loaders } = fakeLoaders({ 'tensorflow-gpu': 'reason-g', tensorflow: 'reason-t', wasm: 'reason-w', cpu: 'reason-c' });
    await rejectsWith(initBackend({ loaders, reinit: true }), 'BACKEND', /tensorflow-gpu: reason-g/, /tensorflow: reason-t/, /wasm: reason-w/, /cpu: reason-c/);
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
    const { loaders, state } = slowLoaders({ 'tensorflow-gpu': 'x', tensorflow: 'y' });
    const reports = await Promise.all([1, 2, 3].map(() => initBackend({ loaders, reinit: true })));
    assert.equal(state.maxInFlight, 1, 'backend loads overlapped');
    for (const r of reports) {
      assert.equal(r.active, 'wasm');
      assert.deepEqual(r.attempts.map((a) => a.name), ['tensorflow-gpu', 'tensorflow', 'wasm']);
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
      const { loaders, calls } = fakeLoaders({ 'tensorflow-gpu': 'x' });
      const r = await initBackend({ loaders, reinit: true });
      assert.deepEqual(calls, ['tensorflow-gpu', 'tensorflow'], `value ${JSON.stringify(value)}`);
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

describe('describeBackend', () => {
  it('names the active backend and every skipped one with its reason', async () => {
    const { loaders } = fakeLoaders({ 'tensorflow-gpu': 'no CUDA driver', tensorflow: 'not installed (optional)' });
    const line = describeBackend(await initBackend({ loaders, reinit: true }));
    assert.match(line, /^backend: wasm\b/);
    assert.match(line, /tensorflow-gpu: no CUDA driver/);
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
  const resolvable = (pkg: string): boolean => {
    try {
      require.resolve(pkg);
      return true;
    } catch {
      return false;
    }
  };
  const nativeInstalled = resolvable('@tensorflow/tfjs-node') || resolvable('@tensorflow/tfjs-node-gpu');
  const skip = nativeInstalled ? 'a native TF.js package is installed here, so auto does not fall through to wasm' : false;

  it('auto skips the native backends as "not installed" and runs on wasm', { skip }, async () => {
    const r = await initBackend({ reinit: true });
    assert.equal(r.active, 'wasm');
    assert.equal(r.tfBackend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm', 'the wasm backend must actually be current in TF.js');
    assert.deepEqual(r.attempts.map((a) => [a.name, a.ok]), [['tensorflow-gpu', false], ['tensorflow', false], ['wasm', true]]);
    for (const a of r.attempts.slice(0, 2)) assert.match(a.reason!, /not installed/, `${a.name}: ${a.reason}`);
    const line = describeBackend(r);
    assert.match(line, /^backend: wasm/);
    assert.match(line, /tensorflow: not installed/);
    // And it computes: a real op on the selected backend.
    const t = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
    assert.deepEqual(Array.from(await t.data()), [4, 6]);
    t.dispose();
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

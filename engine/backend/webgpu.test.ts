/**
 * The webgpu loader's decisions, driven by fake Dawn modules: what each failure is reported as, that a
 * software adapter is refused unless forced, that nothing reaches TF.js before an adapter is found, and
 * where the SwiftShader environment comes from. The real adapter path is in select.test.ts and the
 * webgpu parity suites (test/parity/webgpu.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { adapterName, importDawn, linuxVulkanLoaderPresent, loadWebGpu, probeAdapter, WebGpuUnavailable, type AdapterInfo, type DawnAdapter, type DawnModule, type WebGpuDeps } from './webgpu';
import { swiftShaderEnv } from './webgpu-swiftshader';

const SWIFTSHADER: AdapterInfo = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: 'swiftshader-device-subzero-',
  description: 'SwiftShader driver 5.0.0',
  isFallbackAdapter: true,
};
const HARDWARE: AdapterInfo = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100', isFallbackAdapter: false };

/** A Dawn module whose one adapter is `adapter` (or whose requestAdapter throws `fails`); counts create(). */
function fakeDawn(adapter: DawnAdapter | null, fails?: string) {
  const counts = { create: 0, requests: 0 };
  const dawn: DawnModule = {
    globals: {},
    create: () => {
      counts.create++;
      return {
        requestAdapter: async () => {
          counts.requests++;
          if (fails) throw new Error(fails);
          return adapter;
        },
      };
    },
  };
  return { dawn, counts };
}

/** Deps for loadWebGpu that never touch TF.js: `activations` counts how often it would have registered. */
function deps(dawn: DawnModule) {
  const state = { activations: 0 };
  const d: WebGpuDeps = {
    probe: () => probeAdapter(async () => dawn),
    activate: async () => {
      state.activations++;
      return 'webgpu';
    },
  };
  return { deps: d, state };
}

describe('adapterName', () => {
  it('joins vendor, architecture and device, with the driver description in brackets', () => {
    assert.equal(adapterName(SWIFTSHADER), 'google swiftshader swiftshader-device-subzero- (SwiftShader driver 5.0.0)');
    assert.equal(adapterName(HARDWARE), 'nvidia hopper (NVIDIA H100)', 'empty fields are left out');
    assert.equal(adapterName({ description: 'Some driver' }), 'Some driver');
    assert.equal(adapterName(undefined), 'unnamed adapter');
  });
});

describe('probeAdapter', () => {
  it('reports each way of having no adapter by kind, without throwing', async () => {
    const notInstalled = await probeAdapter(async () => {
      throw new WebGpuUnavailable('not-installed', 'webgpu package not installed');
    });
    assert.deepEqual(notInstalled, { ok: false, kind: 'not-installed', reason: 'webgpu package not installed' });

    const crashed = await probeAdapter(async () => {
      throw new TypeError('dawn.node: undefined symbol: vkGetInstanceProcAddr\nmore');
    });
    assert.deepEqual(crashed, { ok: false, kind: 'load-failed', reason: 'webgpu failed to load: dawn.node: undefined symbol: vkGetInstanceProcAddr' });

    const none = await probeAdapter(async () => fakeDawn(null).dawn);
    assert.equal(none.ok, false);
    assert.equal(!none.ok && none.kind, 'no-adapter');
    assert.match(!none.ok ? none.reason : '', /^no adapter \(.*Vulkan/);

    const refused = await probeAdapter(async () => fakeDawn(null, 'device lost').dawn);
    assert.deepEqual(refused, { ok: false, kind: 'request-failed', reason: 'adapter request failed: device lost' });
  });

  it('names the adapter and reads the fallback flag where either Dawn version puts it', async () => {
    const sw = await probeAdapter(async () => fakeDawn({ info: SWIFTSHADER }).dawn);
    assert.ok(sw.ok);
    assert.equal(sw.name, adapterName(SWIFTSHADER));
    assert.equal(sw.fallback, true);
    const older = await probeAdapter(async () => fakeDawn({ info: { vendor: 'x' }, isFallbackAdapter: true }).dawn);
    assert.equal(older.ok && older.fallback, true);
    const hw = await probeAdapter(async () => fakeDawn({ info: HARDWARE }).dawn);
    assert.equal(hw.ok && hw.fallback, false);
  });

  it('creates one GPU object per Dawn module, however often it probes', async () => {
    // A second GPU object would let the first be collected under TF.js's live device (a native abort).
    const { dawn, counts } = fakeDawn({ info: HARDWARE });
    await probeAdapter(async () => dawn);
    await probeAdapter(async () => dawn);
    assert.deepEqual(counts, { create: 1, requests: 2 });
  });
});

describe('loadWebGpu', () => {
  it('in auto mode refuses a software adapter, naming it, and registers nothing', async () => {
    const { deps: d, state } = deps(fakeDawn({ info: SWIFTSHADER }).dawn);
    await assert.rejects(loadWebGpu(false, d), (e: Error) => {
      assert.ok(e.message.startsWith('only a software (fallback) adapter: google swiftshader swiftshader-device-subzero- (SwiftShader driver 5.0.0)'), e.message);
      return true;
    });
    assert.equal(state.activations, 0);
  });

  it('forced, takes the software adapter and reports it with a note', async () => {
    const { deps: d, state } = deps(fakeDawn({ info: SWIFTSHADER }).dawn);
    const r = await loadWebGpu(true, d);
    assert.equal(state.activations, 1);
    assert.equal(r.tfBackend, 'webgpu');
    assert.equal(r.device, adapterName(SWIFTSHADER));
    assert.match(r.note!, /^software \(fallback\) adapter/);
  });

  it('takes a hardware adapter in auto mode, reporting the device and no note', async () => {
    const { deps: d } = deps(fakeDawn({ info: HARDWARE }).dawn);
    assert.deepEqual(await loadWebGpu(false, d), { tfBackend: 'webgpu', device: 'nvidia hopper (NVIDIA H100)' });
  });

  it('passes on the probe\'s reason when there is no adapter, forced or not, and never registers', async () => {
    for (const forced of [false, true]) {
      const { deps: d, state } = deps(fakeDawn(null).dawn);
      await assert.rejects(loadWebGpu(forced, d), /^Error: no adapter/);
      assert.equal(state.activations, 0);
    }
  });

  it('lets a failed TF.js initialisation through as the reason', async () => {
    const d: WebGpuDeps = {
      probe: () => probeAdapter(async () => fakeDawn({ info: HARDWARE }).dawn),
      activate: async () => {
        throw new Error('"webgpu" backend failed to initialise');
      },
    };
    await assert.rejects(loadWebGpu(false, d), /failed to initialise/);
  });
});

describe('importDawn', () => {
  it('loads the installed webgpu package (an optional dependency) and gets its GPU factory and constants', async (t) => {
    try {
      require.resolve('webgpu');
    } catch {
      return t.skip('the optional webgpu package is not installed here');
    }
    const dawn = await importDawn();
    assert.equal(typeof dawn.create, 'function');
    assert.equal(typeof (dawn.globals as { GPUBufferUsage?: { STORAGE?: number } }).GPUBufferUsage?.STORAGE, 'number');
  });
});

describe('swiftShaderEnv', () => {
  it('points Vulkan at chromium\'s SwiftShader and keeps the existing library path after it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swiftshader-'));
    try {
      fs.writeFileSync(path.join(dir, 'vk_swiftshader_icd.json'), '{}');
      const r = swiftShaderEnv({ LD_LIBRARY_PATH: '/opt/lib', KEEP: '1' }, ['/nonexistent', dir]);
      assert.ok(r.ok);
      assert.equal(r.env.VK_ICD_FILENAMES, path.join(dir, 'vk_swiftshader_icd.json'));
      assert.equal(r.env.LD_LIBRARY_PATH, `${dir}${path.delimiter}/opt/lib`);
      assert.equal(r.env.KEEP, '1');
      const bare = swiftShaderEnv({}, [dir]);
      assert.equal(bare.ok && bare.env.LD_LIBRARY_PATH, dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where it looked and what to install when it is not there', () => {
    const r = swiftShaderEnv({}, ['/nonexistent/a', '/nonexistent/b']);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /\/nonexistent\/a, \/nonexistent\/b.*chromium/);
  });
});

describe('linuxVulkanLoaderPresent', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vk-'));
  const cache = path.join(dir, 'ld.so.cache');
  it('finds libvulkan.so.1 in LD_LIBRARY_PATH', () => {
    fs.writeFileSync(cache, 'glibc-ld.so.cache1.1 libc.so.6');
    fs.writeFileSync(path.join(dir, 'libvulkan.so.1'), '');
    assert.equal(linuxVulkanLoaderPresent({ LD_LIBRARY_PATH: `/nonexistent:${dir}` }, cache), true);
  });
  it("finds it in ld.so's cache, and says no when neither has it", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vk-'));
    assert.equal(linuxVulkanLoaderPresent({ LD_LIBRARY_PATH: empty }, cache), false);
    fs.writeFileSync(cache, 'glibc-ld.so.cache1.1 libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1');
    assert.equal(linuxVulkanLoaderPresent({}, cache), true);
  });
});

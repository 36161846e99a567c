import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeBackend, describeBackendAttempts, describeBackendBrief } from './describe';

const NOT_INSTALLED = 'not installed (optional; its install downloads libtensorflow — see README "Native backends")';
const auto = {
  active: 'wasm',
  note: 'native kernels: avx2, 2 threads',
  forced: false,
  attempts: [
    { name: 'tensorflow-gpu', ok: false, reason: NOT_INSTALLED },
    { name: 'webgpu', ok: false, reason: 'no adapter (no Vulkan loader: libvulkan.so.1 not found; Dawn needs Vulkan and a GPU driver on Linux)' },
    { name: 'tensorflow', ok: false, reason: NOT_INSTALLED },
    { name: 'wasm', ok: true },
  ],
};

describe('backend lines', () => {
  it('the brief line names the backend and where the reasons are, in under 120 characters', () => {
    const line = describeBackendBrief(auto);
    assert.equal(line, 'backend: wasm (native kernels: avx2, 2 threads; 3 faster ones skipped: `peft-studio inspect --backends` says why)');
    assert.ok(line.length <= 120);
    assert.equal(describeBackendBrief({ active: 'cpu', forced: true, attempts: [{ name: 'cpu', ok: true }] }), 'backend: cpu (forced)');
    assert.equal(describeBackendBrief({ active: 'tensorflow', attempts: [{ name: 'tensorflow-gpu', ok: false, reason: 'x' }, { name: 'tensorflow', ok: true }] }), 'backend: tensorflow (1 faster one skipped: `peft-studio inspect --backends` says why)');
  });

  it('the full line and the per-backend list keep every reason', () => {
    assert.match(describeBackend(auto), /skipped tensorflow-gpu: not installed .*webgpu: no adapter .*tensorflow: not installed/);
    const lines = describeBackendAttempts(auto);
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, /^ {2}webgpu +skipped: no adapter \(no Vulkan loader/);
    assert.match(lines[3]!, /^ {2}wasm +active; native kernels: avx2, 2 threads$/);
  });
});

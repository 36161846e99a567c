/**
 * Loaded with `--import` by native-parity.test.ts: installs the native matMul kernels on the wasm backend
 * before a parity test file runs, and fails the process if they could not be installed or never ran (so a
 * pass means the parity checks ran through them).
 */
import '@tensorflow/tfjs-backend-wasm'; // registers the stock wasm kernels that installNativeKernels replaces
import { loadAddon } from '../../engine/backend/native/addon';
import { installNativeKernels } from '../../engine/backend/native';

const status = installNativeKernels();
if (!status.active) {
  console.error(`native kernels not installed: ${status.reason}`);
  process.exit(1);
}
const addon = loadAddon().addon!;
const gemm = addon.gemm.bind(addon);
let calls = 0;
addon.gemm = (...args) => {
  calls += 1;
  gemm(...args);
};
process.on('exit', () => {
  if (calls === 0) {
    console.error('native kernels were installed but no product reached them');
    process.exitCode = 1;
  } else {
    console.error(`native kernels (${status.isa}, ${status.threads} threads) ran ${calls} products`);
  }
});

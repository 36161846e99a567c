/**
 * Starts the engine's bundled workers (dist/worker.js for training, dist/predict-worker.js for Try It) with
 * the bundled wasm binaries and the backend the user chose. In desktop VS Code the extension host is
 * Electron, so ELECTRON_RUN_AS_NODE makes its binary a plain Node.
 */
import * as path from 'node:path';
import { forkWorker, type ChildWorker } from './core/childWorker';
import type { WorkerHandle } from './core/runManager';

export function forkBundledWorker<Send>(distDir: string, entry: string, backend: string): ChildWorker<Send> {
  return forkWorker<Send>(path.join(distDir, entry), {
    env: {
      ...process.env,
      ELECTRON_RUN_AS_NODE: '1',
      PEFT_STUDIO_WASM_DIR: path.join(distDir, 'wasm'),
      PEFT_STUDIO_BACKEND: backend === 'auto' ? '' : backend,
    },
  });
}

export function spawnWorker(distDir: string, backend: string): WorkerHandle {
  return forkBundledWorker(distDir, 'worker.js', backend);
}

/**
 * Starts the bundled predict worker (dist/predict-worker.js) the way ../workerSpawn.ts starts the training
 * worker: a Node child with an IPC channel, the bundled wasm binaries, and the backend the user chose.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { PredictWorkerHandle } from './predictClient';

export function spawnPredictWorker(distDir: string, backend: string): PredictWorkerHandle {
  const child = fork(path.join(distDir, 'predict-worker.js'), [], {
    execPath: process.execPath,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      ELECTRON_RUN_AS_NODE: '1',
      PEFT_STUDIO_WASM_DIR: path.join(distDir, 'wasm'),
      PEFT_STUDIO_BACKEND: backend === 'auto' ? '' : backend,
    },
  });
  return {
    send: (m) => {
      if (child.connected) child.send(m);
    },
    kill: (signal) => child.kill(signal),
    onMessage: (cb) => child.on('message', cb),
    onStderr: (cb) => child.stderr?.on('data', (d: Buffer) => cb(d.toString('utf8'))),
    onExit: (cb) => child.on('exit', cb),
  };
}

/**
 * Starts the bundled training worker (dist/worker.js) as a Node child process with an IPC channel. In
 * desktop VS Code the extension host is Electron, so ELECTRON_RUN_AS_NODE makes its binary a plain Node.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { WorkerHandle } from './core/runManager';

export function spawnWorker(distDir: string, backend: string): WorkerHandle {
  const child = fork(path.join(distDir, 'worker.js'), [], {
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

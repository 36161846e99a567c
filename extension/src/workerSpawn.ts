/**
 * Starts the engine's bundled workers (dist/worker.js for training, dist/predict-worker.js for Try It) as
 * Node child processes with an IPC channel, the bundled wasm binaries and the backend the user chose. In
 * desktop VS Code the extension host is Electron, so ELECTRON_RUN_AS_NODE makes its binary a plain Node.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { WorkerHandle } from './core/runManager';

/** A forked worker seen through the message type the host sends it. */
export interface ChildWorker<Send> {
  send(m: Send): void;
  kill(signal?: NodeJS.Signals): void;
  onMessage(cb: (m: unknown) => void): void;
  onStderr(cb: (text: string) => void): void;
  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export function forkBundledWorker<Send>(distDir: string, entry: string, backend: string): ChildWorker<Send> {
  const child = fork(path.join(distDir, entry), [], {
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
      if (child.connected) child.send(m as object);
    },
    kill: (signal) => child.kill(signal),
    onMessage: (cb) => child.on('message', cb),
    onStderr: (cb) => child.stderr?.on('data', (d: Buffer) => cb(d.toString('utf8'))),
    onExit: (cb) => child.on('exit', cb),
  };
}

export function spawnWorker(distDir: string, backend: string): WorkerHandle {
  return forkBundledWorker(distDir, 'worker.js', backend);
}

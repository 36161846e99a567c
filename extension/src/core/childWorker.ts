/**
 * A worker process as the host sees it: typed messages in, untrusted messages out (validated by whoever
 * listens), stderr text for logs, and its exit. The training worker (RunManager) and the predict worker
 * (PredictClient) are both forked through here; tests fork the TypeScript sources the same way.
 *
 * No `vscode` import: the run manager and predict client are tested against real processes.
 */
import { fork } from 'node:child_process';

export interface ChildWorker<Send> {
  send(m: Send): void;
  kill(signal?: NodeJS.Signals): void;
  onMessage(cb: (m: unknown) => void): void;
  onStderr(cb: (text: string) => void): void;
  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export function forkWorker<Send>(modulePath: string, opts: { env: NodeJS.ProcessEnv; execArgv?: string[] }): ChildWorker<Send> {
  const child = fork(modulePath, [], {
    execPath: process.execPath,
    execArgv: opts.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: opts.env,
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

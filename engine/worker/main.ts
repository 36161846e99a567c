/**
 * The training worker: one child process per run, spawned by the extension's run manager (or anything else
 * that speaks its protocol). It never shares a process with the editor, so a crash, an OOM or a hung
 * kernel costs the run, not the window.
 *
 * Protocol (Node IPC channel, `child_process.fork`):
 *   parent → worker  { kind: 'start', config }        once: a (partial) run config, resolved here
 *                    { kind: 'control', cmd }         pause | resume | stop
 *   worker → parent  { kind: 'event', event }         every run event, as written to events.jsonl
 *                    { kind: 'error', code, message } a failure before the run started (bad config, data, model)
 * Logs go to stderr, which the extension shows in its output channel. If the parent goes away (window
 * reload), the worker stops at the next step boundary and writes a checkpoint, so nothing is lost.
 */
import { PeftStudioError } from '../errors';
import { resolveRunConfig, type RunConfig } from '../train/config';
import { TrainingControl, type ControlCommand } from '../train/control';
import { train } from '../train/trainer';

export type ParentMessage = { kind: 'start'; config: Partial<RunConfig> & Record<string, unknown>; baseDir?: string } | { kind: 'control'; cmd: ControlCommand };

export type WorkerMessage =
  | { kind: 'event'; event: import('../protocol/events').RunEvent }
  | { kind: 'error'; code: string; message: string };

function send(m: WorkerMessage): void {
  if (process.connected) process.send!(m);
}

function main(): void {
  if (!process.send) {
    process.stderr.write('peft-studio worker: must be started with an IPC channel (child_process.fork)\n');
    process.exit(2);
  }
  const control = new TrainingControl();
  let started = false;
  process.on('message', (raw: unknown) => {
    const m = raw as ParentMessage;
    if (m?.kind === 'control' && (m.cmd === 'pause' || m.cmd === 'resume' || m.cmd === 'stop')) control.send(m.cmd);
    else if (m?.kind === 'start' && !started) {
      started = true;
      void run(m, control);
    }
  });
  process.on('disconnect', () => control.send('stop', 'the extension host went away (window closed or reloaded)'));
  process.on('SIGTERM', () => control.send('stop', 'terminated (SIGTERM)'));
}

async function run(m: Extract<ParentMessage, { kind: 'start' }>, control: TrainingControl): Promise<void> {
  try {
    const config = resolveRunConfig(m.config, m.baseDir);
    const result = await train(config, { control, onEvent: (event) => send({ kind: 'event', event }) });
    process.exitCode = result.status === 'failed' ? 1 : 0;
  } catch (e) {
    const err = e instanceof PeftStudioError ? e : undefined;
    send({ kind: 'error', code: err?.code ?? 'INTERNAL', message: err?.message ?? String((e as Error)?.stack ?? e) });
    process.stderr.write(`${err ? err.message : String((e as Error)?.stack ?? e)}\n`);
    process.exitCode = 1;
  } finally {
    // Let the IPC queue drain, then leave: the parent treats exit as the end of the run.
    setTimeout(() => process.disconnect?.(), 50);
  }
}

main();

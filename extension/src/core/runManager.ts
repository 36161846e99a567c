/**
 * Runs as the extension sees them: queued, running in a worker process, or finished on disk. The manager
 * spawns one worker per run (one at a time; later runs queue), relays its events in small batches, and
 * survives it: a worker that dies without a final event marks its run failed with its last log lines, and
 * that verdict is written to the run's events.jsonl so a reloaded window tells the same story.
 *
 * No `vscode` import here: the host wires it to the UI, tests drive it with a real worker process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../../engine/protocol/events';
import { encodeEvent, isRunEvent } from '../../../engine/protocol/events';
import { newRunId, readEvents } from '../../../engine/train/run-dir';
import type { ParentMessage, WorkerMessage } from '../../../engine/worker/main';
import type { ChildWorker } from './childWorker';
import { applyEvent, emptyRunView, type RunStatus, type RunView } from '../../../protocol/webview';

/** The training worker: takes start/control messages (engine/worker/main.ts). */
export type WorkerHandle = ChildWorker<ParentMessage>;

export type SpawnWorker = () => WorkerHandle;

export interface RunRecord {
  runId: string;
  runDir: string;
  view: RunView;
  config: Record<string, unknown>;
  /** Folder that relative paths in `config` are relative to (a config file's folder); the worker resolves them. */
  baseDir?: string;
  worker?: WorkerHandle;
  /** The worker's last stderr lines, for failure reports and the log view. */
  logTail: string[];
}

export type RunChange =
  | { kind: 'events'; runId: string; firstIndex: number; events: RunEvent[] }
  | { kind: 'status'; runId: string; status: RunStatus }
  | { kind: 'added' | 'removed'; runId: string };

export interface RunManagerOptions {
  runsDir: string;
  spawn: SpawnWorker;
  /** Events are coalesced for this long before listeners hear them (the dashboard redraws per batch). */
  throttleMs?: number;
  log?: (runId: string, text: string) => void;
}

const LOG_TAIL = 40;

export class RunManager {
  private readonly records = new Map<string, RunRecord>();
  private readonly queue: string[] = [];
  private active: string | undefined;
  private readonly listeners = new Set<(c: RunChange) => void>();
  private readonly pending = new Map<string, { firstIndex: number; events: RunEvent[] }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RunManagerOptions) {}

  onDidChange(fn: (c: RunChange) => void): { dispose(): void } {
    this.listeners.add(fn);
    return { dispose: () => this.listeners.delete(fn) };
  }

  list(): RunRecord[] {
    return [...this.records.values()].sort((a, b) => b.runId.localeCompare(a.runId));
  }

  get(runId: string): RunRecord | undefined {
    return this.records.get(runId);
  }

  get activeRunId(): string | undefined {
    return this.active;
  }

  /** Loads every run folder under runsDir (a reloaded window's view of past and interrupted runs). */
  restore(): void {
    if (!fs.existsSync(this.opts.runsDir)) return;
    for (const name of fs.readdirSync(this.opts.runsDir)) {
      const runDir = path.join(this.opts.runsDir, name);
      if (this.records.has(name) || !fs.existsSync(path.join(runDir, 'events.jsonl'))) continue;
      let config: Record<string, unknown> = {};
      try {
        config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
      } catch {
        // a run that failed before writing its config still shows, with what its events say
      }
      const view = emptyRunView(name, typeof config.run_name === 'string' ? config.run_name : name, 'failed');
      for (const e of readEvents(runDir).events) applyEvent(view, e);
      if (!view.end) view.status = 'stopped'; // no live worker owns it: it was interrupted
      this.records.set(name, { runId: name, runDir, view, config, logTail: [] });
      this.emit({ kind: 'added', runId: name });
    }
  }

  /** Queues a run; it starts at once when no other run is training. Returns its id (= folder name). */
  enqueue(config: Record<string, unknown>, label?: string, baseDir?: string): string {
    const runId = newRunId(config);
    const runDir = path.join(this.opts.runsDir, runId);
    const name = label ?? (typeof config.run_name === 'string' ? config.run_name : runId);
    const rec: RunRecord = { runId, runDir, view: emptyRunView(runId, name, 'queued'), config: { ...config, output_dir: runDir, run_name: name }, baseDir, logTail: [] };
    this.records.set(runId, rec);
    this.queue.push(runId);
    this.emit({ kind: 'added', runId });
    this.startNext();
    return runId;
  }

  control(runId: string, cmd: 'pause' | 'resume' | 'stop'): boolean {
    const rec = this.records.get(runId);
    if (!rec) return false;
    if (cmd === 'stop' && rec.view.status === 'queued') {
      this.queue.splice(this.queue.indexOf(runId), 1);
      rec.view.status = 'stopped';
      this.emit({ kind: 'status', runId, status: 'stopped' });
      return true;
    }
    if (!rec.worker) return false;
    rec.worker.send({ kind: 'control', cmd });
    return true;
  }

  /** Forgets a finished run and deletes its folder. */
  delete(runId: string): void {
    const rec = this.records.get(runId);
    if (!rec || rec.worker) return;
    fs.rmSync(rec.runDir, { recursive: true, force: true });
    this.records.delete(runId);
    this.emit({ kind: 'removed', runId });
  }

  /** Stops every worker (extension deactivation): each writes a checkpoint and a 'stopped' event. */
  dispose(): void {
    for (const rec of this.records.values()) rec.worker?.send({ kind: 'control', cmd: 'stop' });
    this.flush();
  }

  private startNext(): void {
    if (this.active || !this.queue.length) return;
    const runId = this.queue.shift()!;
    const rec = this.records.get(runId)!;
    this.active = runId;
    let ended = false;
    let worker: WorkerHandle;
    try {
      worker = this.opts.spawn();
    } catch (e) {
      this.fail(rec, `could not start the training worker: ${(e as Error).message}`);
      this.active = undefined;
      this.startNext();
      return;
    }
    rec.worker = worker;
    rec.view.status = 'running';
    this.emit({ kind: 'status', runId, status: 'running' });
    worker.onStderr((text) => {
      for (const line of text.split('\n').filter(Boolean)) {
        rec.logTail.push(line);
        if (rec.logTail.length > LOG_TAIL) rec.logTail.shift();
      }
      this.opts.log?.(runId, text);
    });
    worker.onMessage((raw) => {
      const m = raw as WorkerMessage;
      if (m?.kind === 'event' && isRunEvent(m.event)) {
        applyEvent(rec.view, m.event);
        if (m.event.type === 'finished' || m.event.type === 'stopped' || m.event.type === 'failed') ended = true;
        this.queueEvent(runId, m.event);
      } else if (m?.kind === 'error' && typeof m.message === 'string') {
        ended = true;
        this.fail(rec, m.message, m.code);
      }
      // anything else from the worker is ignored: it is not trusted either
    });
    worker.onExit((code, signal) => {
      rec.worker = undefined;
      if (!ended) {
        const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
        const tail = rec.logTail.slice(-8).join('\n');
        this.fail(rec, `the training worker ${how} before the run ended${tail ? `; last log lines:\n${tail}` : ''}`, 'WORKER_CRASH');
      }
      this.flush();
      this.active = undefined;
      this.startNext();
    });
    worker.send({ kind: 'start', config: rec.config, baseDir: rec.baseDir });
  }

  /** Marks a run failed from the host's side, and records it in events.jsonl so a reload agrees. */
  private fail(rec: RunRecord, reason: string, code = 'INTERNAL'): void {
    const e: RunEvent = { v: 1, type: 'failed', step: rec.view.steps.step.at(-1) ?? 0, time: new Date().toISOString(), reason, code, seconds: 0 };
    try {
      fs.mkdirSync(rec.runDir, { recursive: true });
      fs.appendFileSync(path.join(rec.runDir, 'events.jsonl'), encodeEvent(e) + '\n');
    } catch {
      // the disk may be why it failed; the in-memory view still shows it
    }
    applyEvent(rec.view, e);
    this.queueEvent(rec.runId, e);
    this.flush();
  }

  /** Call after applyEvent: the event's index in the stream is `applied - 1`. */
  private queueEvent(runId: string, e: RunEvent): void {
    const rec = this.records.get(runId);
    const index = (rec?.view.applied ?? 1) - 1;
    const batch = this.pending.get(runId) ?? { firstIndex: index, events: [] };
    batch.events.push(e);
    this.pending.set(runId, batch);
    const terminal = e.type === 'started' || e.type === 'finished' || e.type === 'stopped' || e.type === 'failed' || e.type === 'paused' || e.type === 'resumed';
    if (terminal) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.opts.throttleMs ?? 50);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [runId, { firstIndex, events }] of this.pending) {
      const rec = this.records.get(runId);
      this.emit({ kind: 'events', runId, firstIndex, events });
      if (rec) this.emit({ kind: 'status', runId, status: rec.view.status });
    }
    this.pending.clear();
  }

  private emit(c: RunChange): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch {
        // a failing listener (a disposed webview) must not stop the others
      }
    }
  }
}

/**
 * A study run from the extension: the bundled CLI (`peft-studio study FILE --out DIR --json --control
 * stdin`) in a child process, as Evaluate and Export run it — the host never loads TF.js. Its JSON event
 * lines are folded into a `StudyOutput` (progress), and `report.json`, which the engine rewrites after each
 * run, is read into it as the report. Stopping sends `stop` on stdin: the current run checkpoints and
 * ends `stopped`, so starting the same study again resumes it. vscode-free: the notebook kernel and the
 * study tab both follow a study through `StudyTracker`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { StudyEvent } from '../../../engine/study/runner';
import { STUDY_REPORT_FILE, type StudyReportModel } from '../../../engine/study/report-model';
import type { StudyOutput } from '../../../protocol/study';

/** Folds one event of the study's stream into its output; returns whether the report may have changed. */
export function applyStudyEvent(o: StudyOutput, e: StudyEvent): boolean {
  switch (e.type) {
    case 'study-started':
      o.status = 'running';
      o.total = e.runs;
      o.done = e.done;
      return false;
    case 'run-started':
      o.current = { id: e.id, index: e.index, step: 0, resume: e.resume };
      return false;
    case 'run-event':
      if (o.current?.id === e.id) {
        if (e.event.type === 'started') o.current.totalSteps = e.event.totalSteps;
        if (e.event.type === 'step') o.current.step = e.event.step;
      }
      return false;
    case 'run-skipped':
      return false;
    case 'run-ended':
      if (e.status === 'finished') o.done += 1;
      if (e.status === 'failed') o.failures.push({ id: e.id, reason: (e.reason ?? 'failed').split('\n')[0]! });
      if (o.current?.id === e.id) o.current = undefined;
      return true;
    case 'study-ended':
      o.status = e.status;
      o.current = undefined;
      return true;
  }
}

/** The study's report.json, or undefined when there is none yet (or it is not one). */
export function readStudyReport(dir: string): StudyReportModel | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, STUDY_REPORT_FILE), 'utf8')) as StudyReportModel;
    return r && r.v === 1 && Array.isArray(r.rows) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** A study folder not running here, as an output: its study.json (name, runs) and its report. */
export function studyOutputOfFolder(dir: string): StudyOutput | undefined {
  let meta: { name?: unknown; runs?: unknown } = {};
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8'));
  } catch {
    // no study.json: not a study folder, unless a report is there
  }
  const report = readStudyReport(dir);
  if (!report && !Array.isArray(meta.runs)) return undefined;
  const total = Array.isArray(meta.runs) ? meta.runs.length : (report?.total ?? 0);
  const done = report?.counts.finished ?? 0;
  return {
    v: 1,
    kind: 'study',
    name: typeof meta.name === 'string' ? meta.name : (report?.name ?? path.basename(dir)),
    dir,
    status: done === total && total > 0 ? 'finished' : 'stopped',
    total,
    done,
    failures: (report?.notFinished ?? []).filter((r) => r.status === 'failed').map((r) => ({ id: r.id, reason: r.reason ?? 'failed' })),
    report,
  };
}

export interface StudyLaunch {
  /** dist/ of the extension: cli.js and wasm/. */
  distDir: string;
  backend: string;
  /** The study file (YAML) and the folder its relative paths are relative to. */
  file: string;
  baseDir?: string;
  outDir: string;
  name: string;
  log?: (line: string) => void;
}

/** Who is following which study (the notebook cell that runs it, the study tab showing it). */
export class StudyTracker {
  private readonly states = new Map<string, StudyOutput>();
  private readonly listeners = new Set<(dir: string, o: StudyOutput) => void>();

  get(dir: string): StudyOutput | undefined {
    return this.states.get(path.resolve(dir));
  }
  set(o: StudyOutput): void {
    this.states.set(path.resolve(o.dir), o);
    for (const l of this.listeners) l(path.resolve(o.dir), o);
  }
  onDidChange(l: (dir: string, o: StudyOutput) => void): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }
}

export class StudyProcess {
  readonly output: StudyOutput;
  readonly done: Promise<StudyOutput>;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stopping = false;

  constructor(launch: StudyLaunch, onChange: (o: StudyOutput) => void) {
    this.output = { v: 1, kind: 'study', name: launch.name, dir: launch.outDir, status: 'starting', total: 0, done: 0, failures: [], report: readStudyReport(launch.outDir) };
    const args = [path.join(launch.distDir, 'cli.js'), 'study', launch.file, '--out', launch.outDir, '--json', '--control', 'stdin', ...(launch.baseDir ? ['--base-dir', launch.baseDir] : [])];
    launch.log?.(`$ peft-studio ${args.slice(1).join(' ')}`);
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', PEFT_STUDIO_WASM_DIR: path.join(launch.distDir, 'wasm'), PEFT_STUDIO_BACKEND: launch.backend === 'auto' ? '' : launch.backend },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffered = '';
    let stderr = '';
    this.child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      let changed = false;
      for (const line of lines) {
        if (!line.trim()) continue;
        let e: StudyEvent;
        try {
          e = JSON.parse(line) as StudyEvent;
        } catch {
          launch.log?.(line);
          continue;
        }
        if (typeof e?.type !== 'string') continue;
        if (applyStudyEvent(this.output, e)) this.output.report = readStudyReport(launch.outDir) ?? this.output.report;
        changed = true;
      }
      if (changed) onChange(this.output);
    });
    this.child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8000);
      launch.log?.(d.toString().trimEnd());
    });
    this.child.stdin.on('error', () => {
      // the CLI exited before reading a stop: nothing to stop
    });
    this.done = new Promise((resolve) => {
      const finish = (code: number | null, error?: string) => {
        const o = this.output;
        o.current = undefined;
        o.report = readStudyReport(launch.outDir) ?? o.report;
        if (o.status === 'starting' || o.status === 'running') {
          // No study-ended event: the study was refused (a bad study) or the process died.
          const why = error ?? lastError(stderr) ?? `the study process exited with code ${code}`;
          o.status = this.stopping ? 'stopped' : 'failed';
          if (!this.stopping) o.error = why;
        }
        onChange(o);
        resolve(o);
      };
      this.child.on('close', (code) => finish(code));
      this.child.on('error', (e) => finish(null, String(e)));
    });
  }

  /** Stops after the current step (the run checkpoints); a second call kills the process. */
  stop(): void {
    if (this.stopping) {
      this.child.kill('SIGTERM');
      return;
    }
    this.stopping = true;
    if (this.child.exitCode === null) this.child.stdin.write('stop\n');
  }
}

/** The CLI's error line ("error: study: axes.foo …"), without its usage text. */
function lastError(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const rev = lines.reverse();
  return (rev.find((l) => /^(error|peft-studio|internal error):/.test(l)) ?? rev.find((l) => /error|cannot|must|unknown/i.test(l)) ?? rev[0])?.replace(/^error: /, '');
}

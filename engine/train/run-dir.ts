/**
 * A run folder: `config.json` (the resolved run config), `events.jsonl` (every event, appended as it
 * happens), `checkpoints/`, `export/`. The events file is the source of truth a dashboard rebuilds from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PeftStudioError } from '../errors';
import { ioError, makeDirs, writeFileAtomic } from '../io/atomic';
import { decodeEvent, encodeEvent, type RunEvent } from '../protocol/events';
import type { RunConfig } from './config';

export const EVENTS_FILE = 'events.jsonl';
export const CONFIG_FILE = 'config.json';

/**
 * `20261123-001502-bitfit-train-a1b2`: sortable, readable, unique; a folder name. Takes a partial config
 * because the extension names a run before the worker has resolved its config.
 */
export function newRunId(config: { train_file?: unknown; method?: unknown }, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const train = typeof config.train_file === 'string' ? config.train_file : 'data';
  const slug = (path.basename(path.dirname(train)) || 'data').replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 24);
  // `method` is a name or a `{ name, …settings }` spec; only the name goes into the folder name.
  const m = config.method;
  const name = typeof m === 'string' ? m : typeof m === 'object' && m !== null && typeof (m as { name?: unknown }).name === 'string' ? (m as { name: string }).name : 'bitfit';
  return `${stamp}-${name.replace(/[^A-Za-z0-9_.-]+/g, '_')}-${slug}-${randomBytes(2).toString('hex')}`;
}

export function prepareRunDir(config: RunConfig): { runDir: string; runId: string } {
  const runDir = config.output_dir ?? path.join(config.runs_dir, newRunId(config));
  if (fs.existsSync(runDir) && !fs.statSync(runDir).isDirectory()) {
    throw new PeftStudioError('IO', `Cannot create run folder ${runDir}: a file of that name exists, not a folder — choose another output_dir.`, runDir);
  }
  try {
    makeDirs(runDir, 'create run folder');
    fs.accessSync(runDir, fs.constants.W_OK);
  } catch (e) {
    if (e instanceof PeftStudioError) throw e;
    throw ioError(runDir, e, 'create run folder');
  }
  writeFileAtomic(path.join(runDir, CONFIG_FILE), JSON.stringify({ ...config, output_dir: runDir }, null, 2) + '\n');
  return { runDir, runId: path.basename(runDir) };
}

/** Appends events to events.jsonl and forwards them to a listener. A failed write is an IO error, raised. */
export class EventLog {
  private readonly file: string;
  constructor(
    runDir: string,
    private readonly listener?: (e: RunEvent) => void,
  ) {
    this.file = path.join(runDir, EVENTS_FILE);
  }

  /** Disk first, then the listener: whoever hears of an event can rely on finding it in events.jsonl. */
  emit(e: RunEvent): void {
    try {
      fs.appendFileSync(this.file, encodeEvent(e) + '\n');
    } catch (err) {
      throw ioError(this.file, err, 'append to');
    }
    this.listener?.(e);
  }

  /** Forwards without writing: the last word of a run whose disk refused the events file. */
  notifyOnly(e: RunEvent): void {
    this.listener?.(e);
  }
}

/** Reads a run's events, skipping (and counting) lines that are not valid events — e.g. a torn last line. */
export function readEvents(runDir: string): { events: RunEvent[]; invalidLines: number } {
  const file = path.join(runDir, EVENTS_FILE);
  if (!fs.existsSync(file)) return { events: [], invalidLines: 0 };
  const events: RunEvent[] = [];
  let invalidLines = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = decodeEvent(line);
    if (e) events.push(e);
    else invalidLines += 1;
  }
  return { events, invalidLines };
}

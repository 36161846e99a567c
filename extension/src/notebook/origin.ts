/**
 * Where a run came from, kept in its folder as `origin.json` (written by the host when a notebook cell
 * starts a run). Not in config.json: resolveRunConfig rejects keys it does not know, and where a run came
 * from is not part of how it trains. The Runs tree shows it, and "Re-run with Changes…" finds the notebook.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ORIGIN_FILE = 'origin.json';

export interface RunOrigin {
  v: 1;
  /** Notebook file (absolute path; an untitled notebook's name). */
  notebook: string;
  cellId: string;
  /** 0-based index among all cells when the run started (cells move; the id is what stays). */
  cellIndex: number;
}

export function writeOrigin(runDir: string, origin: RunOrigin): void {
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, ORIGIN_FILE), JSON.stringify(origin, null, 2) + '\n');
}

/** The origin of a run, or undefined (no file, or one that does not parse as an origin: it is only a label). */
export function readOrigin(runDir: string): RunOrigin | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(runDir, ORIGIN_FILE), 'utf8')) as Partial<RunOrigin>;
    if (typeof o.notebook === 'string' && typeof o.cellId === 'string' && typeof o.cellIndex === 'number') return { v: 1, notebook: o.notebook, cellId: o.cellId, cellIndex: o.cellIndex };
  } catch {
    // no origin: a run started from New Run, a config file or the CLI
  }
  return undefined;
}

/** "experiments.peftnb · cell 3": short enough for a tree item's description. */
export function describeOrigin(o: RunOrigin): string {
  return `${path.basename(o.notebook)} · cell ${o.cellIndex + 1}`;
}

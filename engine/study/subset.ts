/**
 * `train_rows: N` — the first N rows of the training file after a seeded shuffle. The rows are read with
 * the engine's own loader (same columns, same bad-row rule as the run), shuffled with mulberry32 seeded by
 * `data_seed` (default: the run's seed), and the chosen rows are copied byte for byte, in file order, with
 * the file's header, into `<study>/data/<name>-rows<N>-seed<S>.<ext>`. The run trains on that file, so its
 * folder says exactly what it saw, and the same (file, N, seed) always gives the same subset: with
 * nested sizes, the 500-row subset is the start of the 2,000-row one's shuffle.
 *
 * Text formats only (CSV, TSV, JSONL): a row is the lines from its first line to the next row's. A file
 * with at most N usable rows is used whole.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset, mulberry32, range, shuffleInPlace } from '../data';
import { PeftStudioError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { RunConfig } from '../train/config';

export interface Subset {
  file: string;
  rows: number;
  /** Usable rows in the whole file (NaN when an earlier run's subset file was reused unread). */
  available: number;
  /** True when the file had no more than N rows and is used as it is. */
  whole: boolean;
}

export async function trainSubset(config: RunConfig, rows: number, seed: number, dataDir: string): Promise<Subset> {
  const src = config.train_file;
  const ext = path.extname(src);
  const out = path.join(dataDir, `${path.basename(src, ext)}-rows${rows}-seed${seed}${ext}`);
  // Made before (by an earlier run of this study): the same file, rows and seed always give the same subset.
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return { file: out, rows, available: NaN, whole: false };
  const ds = await loadDataset(src, {
    columns: { text: config.text_column, textPair: config.text_pair_column, label: config.label_column },
    onBadRow: config.on_bad_row,
  });
  if (ds.format === 'parquet') throw new PeftStudioError('UNSUPPORTED', `train_rows: ${src} is a Parquet file; subsets are made of CSV, TSV or JSONL files`, src);
  const available = ds.examples.length;
  if (rows >= available) return { file: src, rows: available, available, whole: true };
  const text = fs.readFileSync(src, 'utf8');
  const lines = text.split('\n');
  // Row starts (1-based lines) of every record, good and bad, so a row's span ends where the next begins.
  const starts = [...ds.examples.map((e) => e.line), ...ds.badRows.map((b) => b.line)].sort((a, b) => a - b);
  const first = starts[0] ?? 1;
  const spanOf = new Map<number, [number, number]>();
  starts.forEach((s, i) => spanOf.set(s, [s, (starts[i + 1] ?? lines.length + 1) - 1]));
  const order = shuffleInPlace(range(available), mulberry32(seed)).slice(0, rows).sort((a, b) => a - b);
  const parts = lines.slice(0, first - 1);
  for (const i of order) {
    const [a, b] = spanOf.get(ds.examples[i]!.line)!;
    const span = lines.slice(a - 1, b);
    while (span.length > 1 && span.at(-1)!.trim() === '') span.pop();
    parts.push(...span);
  }
  fs.mkdirSync(dataDir, { recursive: true });
  writeFileAtomic(out, parts.join('\n') + '\n');
  return { file: out, rows, available, whole: false };
}

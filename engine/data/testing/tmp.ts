/** TEST HELPER: dataset files written to a fresh temp folder, removed when the process exits. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;

export function tmpPath(name: string): string {
  if (!dir) {
    const d = mkdtempSync(join(tmpdir(), 'peft-data-'));
    dir = d;
    process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return join(dir, name);
}

/** Writes `content` (text as UTF-8, or raw bytes) to a temp file named `name`; returns its path. */
export function tmpFile(name: string, content: string | Uint8Array): string {
  const file = tmpPath(name);
  writeFileSync(file, content);
  return file;
}

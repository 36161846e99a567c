/**
 * The terminal view of a Hub download: one cli-progress bar per file (bytes, speed, ETA) when stderr is a
 * terminal, one line per finished file otherwise (CI logs must not fill with carriage returns). Feed it
 * `resolveModel(id, { onProgress: view.onProgress })`, then `view.close()`.
 */
import { SingleBar } from 'cli-progress';
import type { HubProgress } from './options';

export interface DownloadProgressOptions {
  /** Default process.stderr: stdout is for results (one JSON line with --json). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Default: whether `stream` is a TTY. */
  tty?: boolean;
  /** Clock in ms, for tests. */
  now?: () => number;
}

interface FileState {
  file: string;
  /** Bytes already on disk when we first heard of it (a resumed download): not part of the speed. */
  firstBytes: number;
  startedAt: number;
  done: boolean;
  bar?: SingleBar;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${UNITS[i]}`;
}

export class DownloadProgress {
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private current?: FileState;

  constructor(opts: DownloadProgressOptions = {}) {
    const stream = opts.stream ?? process.stderr;
    this.stream = stream;
    this.tty = opts.tty ?? Boolean(stream.isTTY);
    this.now = opts.now ?? Date.now;
  }

  /** An arrow property, so it can be handed over as a callback without bind. */
  readonly onProgress = (p: HubProgress): void => {
    if (this.current?.file !== p.file) this.begin(p);
    const cur = this.current!;
    if (cur.done) return; // the downloader reports the last byte and then the rename; say it once
    const seconds = Math.max((this.now() - cur.startedAt) / 1000, 1e-3);
    const rate = (p.bytes - cur.firstBytes) / seconds;
    if (cur.bar) {
      // Unknown size (no Content-Length): let the bar's end follow the bytes, so it reads as "so far".
      cur.bar.setTotal(p.total ?? p.bytes);
      cur.bar.update(p.bytes, { size: `${formatBytes(p.bytes)}/${p.total === undefined ? '?' : formatBytes(p.total)}`, speed: `${formatBytes(rate)}/s` });
    }
    if (p.total !== undefined && p.bytes === p.total) {
      cur.done = true;
      if (cur.bar) {
        cur.bar.stop();
        cur.bar = undefined;
      } else {
        const resumed = cur.firstBytes > 0 ? `, resumed at ${formatBytes(cur.firstBytes)}` : '';
        this.stream.write(`downloaded ${p.file}: ${formatBytes(p.bytes)} in ${seconds.toFixed(1)} s (${formatBytes(rate)}/s${resumed})\n`);
      }
    }
  };

  private begin(p: HubProgress): void {
    this.close();
    this.current = { file: p.file, firstBytes: p.bytes, startedAt: this.now(), done: false };
    if (this.tty) {
      const bar = new SingleBar({
        format: `${p.file} |{bar}| {percentage}% | {size} | {speed} | ETA {eta_formatted}`,
        stream: this.stream,
        hideCursor: true,
        // One chunk is ~64 KiB: average the ETA over many of them, or it jitters.
        etaBuffer: 100,
      });
      bar.start(p.total ?? p.bytes, p.bytes, { size: '-', speed: '-' });
      this.current.bar = bar;
    }
  }

  /** Ends the bar of an unfinished file (an error), leaving the line as it stood. */
  close(): void {
    this.current?.bar?.stop();
    if (this.current) this.current.bar = undefined;
  }
}

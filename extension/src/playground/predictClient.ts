/**
 * The host's side of the predict worker (engine/worker/predict.ts): request/response over IPC with request
 * ids. The worker starts on the first request and stays up, keeping the loaded run warm between sentences;
 * if it dies, the requests in flight fail with its last log lines and the next request starts a fresh one.
 *
 * No `vscode` import: tests drive it against a real worker process.
 */
import type { ChildWorker } from '../core/childWorker';
import type { Prediction } from '../../../engine/api/model-handle';
import type { PredictFileResult } from '../../../engine/api/predict-file';
import type { OpenedRun, PredictReply, PredictRequest } from '../../../engine/worker/predict';

/** The predict worker: takes open/predict/predictFile/cancel requests (engine/worker/predict.ts). */
export type PredictWorkerHandle = ChildWorker<PredictRequest>;

export interface PairPrediction {
  trained: Prediction[];
  base: Prediction[];
  /** Forward-pass time in the worker, per model. */
  ms: { trained: number; base: number };
}

/** A failure the worker reported (its PeftStudioError code), or WORKER_CRASH when it died. */
export class PredictError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Pending = { resolve: (m: PredictReply) => void; reject: (e: Error) => void; onProgress?: (done: number, total: number) => void };

const LOG_TAIL = 20;

export class PredictClient {
  private worker: PredictWorkerHandle | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private logTail: string[] = [];

  constructor(
    private readonly spawn: () => PredictWorkerHandle,
    private readonly log?: (text: string) => void,
  ) {}

  async open(runDir: string, checkpoint?: string): Promise<OpenedRun> {
    const r = await this.request({ kind: 'open', runDir, checkpoint });
    return (r as Extract<PredictReply, { kind: 'opened' }>).run;
  }

  async predict(runDir: string, inputs: Array<{ text: string; textPair?: string }>): Promise<PairPrediction> {
    const pairs = inputs.some((x) => x.textPair !== undefined);
    if (pairs && !inputs.every((x) => x.textPair !== undefined)) throw new PredictError('BAD_INPUT', 'give a second text for every input, or for none');
    const r = (await this.request(
      pairs ? { kind: 'predict', runDir, pairs: inputs.map((x) => [x.text, x.textPair!] as [string, string]) } : { kind: 'predict', runDir, texts: inputs.map((x) => x.text) },
    )) as Extract<PredictReply, { kind: 'predicted' }>;
    return { trained: r.trained, base: r.base, ms: r.ms };
  }

  /** Starts a batch job; `cancel()` stops it between batches (nothing is written then). */
  predictFile(
    runDir: string,
    file: string,
    opts: { out?: string; onBadRow?: 'fail' | 'skip'; onProgress?: (done: number, total: number) => void } = {},
  ): { result: Promise<PredictFileResult>; cancel: () => void } {
    const requestId = this.nextId++;
    const result = this.request({ kind: 'predictFile', runDir, path: file, out: opts.out, onBadRow: opts.onBadRow }, requestId, opts.onProgress).then(
      (r) => (r as Extract<PredictReply, { kind: 'fileDone' }>).result,
    );
    return { result, cancel: () => this.worker?.send({ kind: 'cancel', requestId }) };
  }

  /** Stops the worker (and fails whatever is in flight). */
  dispose(): void {
    const w = this.worker;
    this.worker = undefined;
    w?.kill();
    this.failAll(new PredictError('CANCELLED', 'the predict worker was stopped'));
  }

  private request(body: DistributiveOmit<Exclude<PredictRequest, { kind: 'cancel' }>, 'requestId'>, requestId = this.nextId++, onProgress?: Pending['onProgress']): Promise<PredictReply> {
    return new Promise((resolve, reject) => {
      let worker: PredictWorkerHandle;
      try {
        worker = this.ensureWorker();
      } catch (e) {
        return reject(new PredictError('WORKER_CRASH', `could not start the predict worker: ${(e as Error).message}`));
      }
      this.pending.set(requestId, { resolve, reject, onProgress });
      worker.send({ ...body, requestId } as PredictRequest);
    });
  }

  private ensureWorker(): PredictWorkerHandle {
    if (this.worker) return this.worker;
    const w = this.spawn();
    this.worker = w;
    this.logTail = [];
    w.onStderr((text) => {
      for (const line of text.split('\n').filter(Boolean)) {
        this.logTail.push(line);
        if (this.logTail.length > LOG_TAIL) this.logTail.shift();
      }
      this.log?.(text);
    });
    w.onMessage((raw) => this.onReply(raw));
    w.onExit((code, signal) => {
      if (this.worker !== w) return; // disposed on purpose, or already replaced
      this.worker = undefined;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const tail = this.logTail.slice(-6).join('\n');
      this.failAll(new PredictError('WORKER_CRASH', `the predict worker ${how}${tail ? `; last log lines:\n${tail}` : ''}`));
    });
    return w;
  }

  /** Replies are checked for shape: the worker is a separate program and a version skew must not throw here. */
  private onReply(raw: unknown): void {
    const m = raw as PredictReply;
    if (typeof m !== 'object' || m === null || typeof m.requestId !== 'number') return;
    const p = this.pending.get(m.requestId);
    if (!p) return;
    if (m.kind === 'progress') return p.onProgress?.(m.done, m.total);
    this.pending.delete(m.requestId);
    if (m.kind === 'error') p.reject(new PredictError(m.code, m.message));
    else p.resolve(m);
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

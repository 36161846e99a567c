/**
 * The terminal view of a run: a progress bar (loss, lr, steps/s, ETA) on a TTY, plain lines elsewhere
 * (CI logs), and a summary table at the end. Events in, text out; training never waits on it.
 */
import { SingleBar } from 'cli-progress';
import type { RunEvent, StartedEvent } from '../protocol/events';

export class ProgressView {
  private bar?: SingleBar;
  private started?: StartedEvent;
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastLine = 0;
  private stepTimes: number[] = [];
  private lastLoss = NaN;
  /** Warnings of the run (divergence), repeated under the final line so they are not scrolled away. */
  private readonly warnings: string[] = [];
  /** Every step's loss and every eval loss, for the summary's first → last lines. */
  private readonly losses: number[] = [];
  private readonly evalLosses: number[] = [];

  onEvent(e: RunEvent): void {
    const out = process.stderr;
    switch (e.type) {
      case 'started': {
        this.started = e;
        for (const n of e.notices) out.write(`note: ${n}\n`);
        out.write(`run ${e.runId}: ${e.method}, trainable params: ${e.trainable.count.toLocaleString('en-US')} || all params: ${e.trainable.total.toLocaleString('en-US')} || trainable%: ${e.trainable.percent.toFixed(4)}\n`);
        out.write(`data: ${e.data.train} train / ${e.data.eval} eval examples, ${e.data.task}, ${e.data.numLabels} labels; ${e.totalSteps} steps (${e.stepsPerEpoch} per epoch)\n`);
        if (this.tty) {
          this.bar = new SingleBar({ format: 'train |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | {rate} steps/s | ETA {eta_formatted}', hideCursor: true, stream: process.stderr });
          this.bar.start(e.totalSteps, e.resumedFrom?.step ?? 0, { loss: '-', lr: '-', rate: '-' });
        }
        break;
      }
      case 'step': {
        this.lastLoss = e.loss;
        this.losses.push(e.loss);
        this.stepTimes.push(e.time);
        if (this.stepTimes.length > 20) this.stepTimes.shift();
        const rate = this.stepTimes.length > 1 ? ((this.stepTimes.length - 1) * 1000) / (this.stepTimes.at(-1)! - this.stepTimes[0]!) : NaN;
        if (this.bar) this.bar.update(e.step, { loss: e.loss.toFixed(4), lr: e.lr.toExponential(2), rate: Number.isFinite(rate) ? rate.toFixed(2) : '-' });
        else if (Date.now() - this.lastLine > 5000 || e.step === this.started?.totalSteps) {
          this.lastLine = Date.now();
          out.write(`step ${e.step}/${this.started?.totalSteps ?? '?'}  epoch ${e.epoch.toFixed(2)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  grad-norm ${e.gradNorm.toFixed(3)}  ${Math.round(e.tokensPerSec)} tok/s\n`);
        }
        break;
      }
      case 'eval':
        this.evalLosses.push(e.loss);
        this.printAbove(`eval @ step ${e.step}: loss ${e.loss.toFixed(4)}  ${Object.entries(e.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}${e.isBest ? '  (best)' : ''}`);
        break;
      case 'checkpoint':
        if (!this.tty) out.write(`checkpoint @ step ${e.step}: ${e.path}\n`);
        break;
      case 'paused':
      case 'resumed':
        this.printAbove(`${e.type} at step ${e.step}`);
        break;
      case 'log':
        if (e.level === 'warn') this.warnings.push(e.message);
        this.printAbove(`${e.level === 'warn' ? 'warning' : e.level}: ${e.message}`);
        break;
      case 'finished':
      case 'stopped':
      case 'failed': {
        this.close();
        // e.step counts completed steps, as the step events do; a failure inside the next step says which.
        const where = e.type === 'failed' ? `after step ${e.step}` : `at step ${e.step}`;
        out.write(`\n${e.type} ${where} (${e.seconds.toFixed(1)} s)${e.reason ? `: ${e.reason}` : ''}\n`);
        for (const w of this.warnings) out.write(`warning: ${w}\n`);
        this.summary(e.finalMetrics, e.bestCheckpoint);
        break;
      }
      default:
        break;
    }
  }

  private printAbove(line: string): void {
    if (this.bar) {
      // cli-progress redraws on the next update; clear the bar line so the message stays readable.
      process.stderr.write(`\r\x1b[2K${line}\n`);
    } else process.stderr.write(line + '\n');
  }

  private summary(metrics?: Record<string, number>, best?: string): void {
    const rows: Array<[string, string]> = [];
    // One step's loss is one batch's: noisy. The first and last epochs' means say whether training went down.
    const per = Math.min(this.started?.stepsPerEpoch ?? 0, Math.floor(this.losses.length / 2));
    if (per >= 2) {
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      rows.push([`train loss (mean of ${per} steps)`, `${mean(this.losses.slice(0, per)).toFixed(4)} first → ${mean(this.losses.slice(-per)).toFixed(4)} last`]);
    } else if (Number.isFinite(this.lastLoss)) rows.push(['last train loss', this.lastLoss.toFixed(4)]);
    if (this.evalLosses.length > 1) rows.push(['eval loss', `${this.evalLosses[0]!.toFixed(4)} first → ${this.evalLosses.at(-1)!.toFixed(4)} last`]);
    const majority = this.started?.data.evalMajority;
    for (const [k, v] of Object.entries(metrics ?? {})) rows.push([`eval ${k}`, `${v.toFixed(4)}${k === 'accuracy' && majority !== undefined ? `   (majority class: ${majority.toFixed(4)})` : ''}`]);
    if (best) rows.push(['best checkpoint', best]);
    if (!rows.length) return;
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stderr.write(rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  }

  close(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

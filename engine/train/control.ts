/**
 * Pause, resume and stop for a running trainer. The trainer checks `checkpoint()` between optimizer steps,
 * so a request takes effect at a step boundary and never leaves a half-applied update. Transports (stdin
 * lines, IPC messages, signals) are attached by the CLI / worker; the trainer sees only this object.
 */
export type ControlCommand = 'pause' | 'resume' | 'stop';

export class TrainingControl {
  private paused = false;
  private stopReason: string | undefined;
  private wake: (() => void) | undefined;
  private listeners: Array<(state: 'paused' | 'resumed') => void> = [];

  send(cmd: ControlCommand, reason?: string): void {
    if (cmd === 'stop') {
      this.stopReason ??= reason ?? 'stopped on request';
      this.wakeUp();
    } else if (cmd === 'pause') {
      this.paused = true;
    } else {
      this.paused = false;
      this.wakeUp();
    }
  }

  get stopRequested(): string | undefined {
    return this.stopReason;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  onStateChange(fn: (state: 'paused' | 'resumed') => void): void {
    this.listeners.push(fn);
  }

  /** Waits while paused (returns early on stop). Returns the stop reason, if a stop was requested. */
  async checkpoint(): Promise<string | undefined> {
    if (this.paused && !this.stopReason) {
      this.listeners.forEach((l) => l('paused'));
      while (this.paused && !this.stopReason) await new Promise<void>((resolve) => (this.wake = resolve));
      if (!this.stopReason) this.listeners.forEach((l) => l('resumed'));
    }
    return this.stopReason;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** Parses one control line (`{"cmd":"pause"}` or the bare word). Unknown input is ignored, not trusted. */
export function parseControlLine(line: string): ControlCommand | undefined {
  const t = line.trim();
  if (t === 'pause' || t === 'resume' || t === 'stop') return t;
  try {
    const o = JSON.parse(t) as { cmd?: unknown };
    if (o && (o.cmd === 'pause' || o.cmd === 'resume' || o.cmd === 'stop')) return o.cmd;
  } catch {
    // not JSON: ignore
  }
  return undefined;
}

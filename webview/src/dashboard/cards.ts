/** The metric cards over the charts: the focused run's latest numbers, W&B-summary style. */
import type { RunView } from '../../../protocol/webview';
import { h, setText } from '../shared/dom';
import { formatCount, formatLr, formatPercent, formatValue } from '../shared/format';
import { summarize } from './summary';

interface Card {
  value: HTMLElement;
  sub: HTMLElement;
}

const CARDS = ['status', 'method', 'step', 'epoch', 'loss', 'lr', 'tokens', 'best', 'trainable', 'backend'] as const;
const TITLES: Record<(typeof CARDS)[number], string> = {
  status: 'Status',
  method: 'Method',
  step: 'Step',
  epoch: 'Epoch',
  loss: 'Train loss',
  lr: 'Learning rate',
  tokens: 'Tokens / s',
  best: 'Best eval',
  trainable: 'Trainable params',
  backend: 'Backend',
};

export class MetricCards {
  readonly root = h('section', { class: 'cards', 'aria-label': 'Run summary' });
  readonly badge = h('span', { class: 'badge', 'data-testid': 'status-badge', role: 'status' });
  private readonly cards = {} as Record<(typeof CARDS)[number], Card>;

  constructor() {
    for (const id of CARDS) {
      const value = id === 'status' ? this.badge : h('span', { class: 'card-value' });
      const sub = h('span', { class: 'card-sub muted' });
      this.cards[id] = { value, sub };
      this.root.append(h('div', { class: `card card-${id}`, 'data-testid': `card-${id}` }, h('span', { class: 'card-title', text: TITLES[id] }), value, sub));
    }
  }

  update(run: RunView | undefined, smoothedLoss: number | undefined): void {
    const s = run ? summarize(run) : undefined;
    const c = this.cards;
    const status = s?.status ?? 'no run';
    setText(this.badge, status);
    this.badge.className = `badge status-${status.replace(' ', '-')}`;
    const warning = run?.warnings?.at(-1);
    setText(c.status.sub, run?.end?.reason ?? (warning ? `⚠ ${warning}` : undefined) ?? run?.label ?? '');
    c.status.sub.classList.toggle('warning', !run?.end?.reason && warning !== undefined);
    setText(c.step.value, s?.step === undefined ? '–' : s.step.toLocaleString('en-US'));
    setText(c.step.sub, s?.totalSteps ? `of ${s.totalSteps.toLocaleString('en-US')} (${Math.floor((100 * (s.step ?? 0)) / s.totalSteps)}%)` : '');
    setText(c.epoch.value, s?.epoch === undefined ? '–' : s.epoch.toFixed(2));
    setText(c.epoch.sub, '');
    setText(c.loss.value, formatValue(s?.loss));
    setText(c.loss.sub, smoothedLoss === undefined ? '' : `smoothed ${formatValue(smoothedLoss)}`);
    setText(c.lr.value, formatLr(s?.lr));
    setText(c.tokens.value, formatCount(s?.tokensPerSec));
    setText(c.tokens.sub, s?.tokensPerSec === undefined ? '' : 'last 20 steps');
    setText(c.best.value, s?.best ? formatValue(s.best.value) : '–');
    setText(c.best.sub, s?.best ? `${s.best.metric} @ ${s.best.step.toLocaleString('en-US')}` : 'no eval yet');
    setText(c.trainable.value, formatCount(s?.trainable?.count));
    setText(c.trainable.sub, s?.trainable ? `${formatPercent(s.trainable.percent)} of ${formatCount(s.trainable.total)}` : '');
    setText(c.method.value, s?.method?.short ?? '–');
    // The rest of the settings that matter (asked ones and any not at their default), beyond the short label.
    setText(c.method.sub, s?.method && s.method.long !== s.method.short ? s.method.long.slice(s.method.short.length).trim() : '');
    c.method.value.title = s?.method?.long ?? '';
    setText(c.backend.value, s?.backend ?? '–');
    setText(c.backend.sub, '');
  }
}

/**
 * What the renderer's two views (run-view.ts, compare-view.ts) share: each validates the JSON it is given
 * (output files are shared, so nothing is trusted), shows why when it is not valid, draws a loss chart,
 * and redraws the last valid data when the theme changes.
 */
import { h } from '../shared/dom';
import type { Theme } from '../shared/theme';
import type { MiniLossChart } from './chart';

export abstract class OutputView<T> {
  abstract readonly root: HTMLElement;
  protected abstract readonly chart: MiniLossChart;
  private last: T | undefined;

  /** `what` names the output in the error shown for invalid data ("this output", "this comparison"). */
  constructor(
    protected theme: Theme,
    private readonly what: string,
  ) {}

  /** The data, or why it is not valid. */
  protected abstract parse(data: unknown): T | string;
  protected abstract draw(value: T): void;

  /** Draws `data`; returns false (and shows why) when it is not valid. */
  update(data: unknown): boolean {
    const value = this.parse(data);
    if (typeof value === 'string') {
      this.root.replaceChildren(h('p', { class: 'error', text: `Cannot show ${this.what}: ${value}` }));
      return false;
    }
    this.last = value;
    this.draw(value);
    return true;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.setTheme(theme);
    if (this.last) this.draw(this.last);
  }

  dispose(): void {
    this.chart.destroy();
  }
}

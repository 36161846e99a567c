/**
 * The what-moved heatmap as an HTML grid (<table role="grid">), not a canvas: ≤ 30 rows × 8 columns is a
 * few hundred cells, cheap to restyle, and a real table gives screen readers row/column headers and
 * keyboard focus for free. Colour is CSS `color-mix()` of two theme variables driven by a per-cell `--t`
 * (set through CSSOM, which the CSP allows), so a theme change recolours it without any script.
 *
 * Method-neutral: columns, the measure in the legend and the lists shown for a selected cell all come from
 * the run's `started.heatmap` and its `change` events. BitFit keeps its own words (bias change, mean |Δb|).
 *
 * Keyboard: one cell is tabbable (roving tabindex); arrows, Home/End move; Enter/Space selects, which lists
 * that cell's most-moved units and the method's detail lists (LoRA: singular values of ΔW, …) beside the
 * grid. A range input scrubs through the change events and a play button replays them.
 */
import { BITFIT_MEASURE } from '../../../engine/protocol/events';
import type { RunView } from '../../../protocol/webview';
import { formatDelta, formatValue } from '../shared/format';
import { h, iconButton, setText } from '../shared/dom';
import { buildGrid, detailLists, frameIndex, hasRelativeMode, intensity, layoutOf, scaleMax, shortName, topUnits, type HeatCell, type HeatGrid, type HeatMode } from './heatmap-model';

/** What the panel calls things: BitFit's words for its measure (as the grid always said), neutral ones otherwise. */
interface Words {
  title: string;
  grid: string;
  subject: string;
  relativeLabel: string;
  valueHelp: string;
  relativeHelp: string;
  undefinedRelative: string;
  empty: string;
  absent: string;
}
const BITFIT_WORDS: Words = {
  title: 'Bias change',
  grid: 'Bias change per layer and bias kind',
  subject: 'bias changes',
  relativeLabel: '‖Δb‖ / ‖b₀‖',
  valueHelp: 'Mean absolute change of each bias from its pretrained value (the BitFit paper’s measure)',
  relativeHelp: 'L2 norm of the change relative to the pretrained bias’s L2 norm (undefined for a zero-initialised head)',
  undefinedRelative: 'n/a (b₀ = 0)',
  empty: 'No bias-change summary yet: the trainer writes one every bias_change_steps steps.',
  absent: 'This model has no such bias, or it is not trained.',
};
function wordsFor(measure: string): Words {
  if (measure === BITFIT_MEASURE) return BITFIT_WORDS;
  return {
    title: 'What moved',
    grid: `What moved per layer and module (${measure})`,
    subject: 'changes',
    relativeLabel: '‖Δ‖ / ‖start‖',
    valueHelp: `Each cell: ${measure}, the method's own measure of how far it moved`,
    relativeHelp: 'L2 norm of the change relative to the starting values’ L2 norm (undefined where they start at zero)',
    undefinedRelative: 'n/a (starts at 0)',
    empty: 'No change summary yet: the trainer writes one every bias_change_steps steps.',
    absent: 'Nothing trains here for this method and model.',
  };
}
const REPLAY_MS = 150;

export class HeatmapView {
  readonly root: HTMLElement;
  mode: HeatMode;
  private run: RunView | undefined;
  private frame: number | null = null; // null: follow the latest event
  private layoutKey = '';
  private table = h('table', { class: 'heatmap-grid', role: 'grid', 'aria-label': 'Bias change per layer and bias kind', 'data-testid': 'heatmap' });
  private cells: HTMLTableCellElement[][] = [];
  private grid: HeatGrid | undefined;
  private focus = { r: 0, k: 0 };
  private selected: { row: string; kind: string } | undefined;
  private readonly scrubber = h('input', { type: 'range', min: 0, max: 0, value: 0, class: 'scrubber', 'aria-label': 'Bias-change summary to show', 'data-testid': 'heatmap-scrubber' });
  private readonly stepLabel = h('span', { class: 'muted step-label' });
  private readonly play = iconButton('play', 'Replay the bias changes', 'heatmap-play');
  private readonly modeButtons: Record<HeatMode, HTMLButtonElement>;
  private readonly scaleMaxLabel = h('span', { class: 'muted' });
  private readonly details = h('div', { class: 'heatmap-details', 'aria-live': 'polite' });
  private readonly empty = h('p', { class: 'muted empty', text: BITFIT_WORDS.empty });
  private readonly title = h('h2', { id: 'heatmap-title', text: BITFIT_WORDS.title });
  private words: Words = BITFIT_WORDS;
  private measure = BITFIT_MEASURE;
  private relativeShown = true;
  private timer: number | undefined;
  private detailsKey = '';
  private scaleCache = { events: -1, mode: '' as string, run: '', max: 0 };

  constructor(mode: HeatMode, private readonly onModeChange: (mode: HeatMode) => void) {
    this.mode = mode;
    const modeButton = (m: HeatMode) => {
      const b = h('button', { type: 'button', class: 'segment', title: m === 'value' ? BITFIT_WORDS.valueHelp : BITFIT_WORDS.relativeHelp, 'data-testid': `heatmap-mode-${m}`, text: m === 'value' ? BITFIT_MEASURE : BITFIT_WORDS.relativeLabel });
      b.addEventListener('click', () => this.setMode(m));
      return b;
    };
    this.modeButtons = { value: modeButton('value'), relative: modeButton('relative') };
    this.scrubber.addEventListener('input', () => {
      this.stopReplay();
      const v = Number(this.scrubber.value);
      this.frame = v >= Number(this.scrubber.max) ? null : v;
      this.render();
    });
    this.play.addEventListener('click', () => (this.timer === undefined ? this.startReplay() : this.stopReplay()));
    this.table.addEventListener('keydown', (e) => this.onKey(e));
    this.table.addEventListener('click', (e) => {
      const td = (e.target as Element).closest('td');
      if (!td) return;
      this.focus = { r: Number(td.dataset.r), k: Number(td.dataset.k) };
      this.select();
    });
    this.root = h(
      'section',
      { class: 'panel heatmap-panel', 'aria-labelledby': 'heatmap-title' },
      h(
        'div',
        { class: 'panel-toolbar' },
        this.title,
        h('div', { class: 'segmented', role: 'group', 'aria-label': 'Colour by' }, this.modeButtons.value, this.modeButtons.relative),
        this.play,
        this.scrubber,
        this.stepLabel,
      ),
      h('div', { class: 'heatmap-body' }, h('div', { class: 'heatmap-scroll' }, this.table, this.empty), this.details),
      h('div', { class: 'heatmap-legend' }, h('span', { class: 'muted', text: '0' }), h('span', { class: 'heat-ramp', 'aria-hidden': 'true' }), this.scaleMaxLabel),
    );
    this.updateModeButtons();
  }

  update(run: RunView | undefined): void {
    if (run?.runId !== this.run?.runId) {
      this.frame = null;
      this.selected = undefined;
      this.stopReplay();
    }
    this.run = run;
    this.render();
  }

  /** The mode drawn: relative falls back to the measure itself where the method's cells have no other relative number. */
  private get shownMode(): HeatMode {
    return this.relativeShown ? this.mode : 'value';
  }

  private render(): void {
    const events = this.run?.changes ?? [];
    const layout = layoutOf(this.run?.started, events);
    this.applyMeasure(layout.measure, layout.measure === BITFIT_MEASURE || hasRelativeMode(events));
    const key = `${layout.rows.join(',')}|${layout.kinds.join(',')}`;
    if (key !== this.layoutKey) this.buildTable(layout.rows, layout.kinds, key);

    const mode = this.shownMode;
    const index = frameIndex(events, this.frame);
    const grid = buildGrid(layout, events[index], mode);
    this.grid = grid;
    const max = this.scaleFor(events);
    grid.cells.forEach((row, r) =>
      row.forEach((cell, k) => {
        const td = this.cells[r]![k]!;
        td.style.setProperty('--t', intensity(cell.value, max).toFixed(3));
        td.classList.toggle('absent', cell.cells.length === 0);
        td.classList.toggle('undefined', cell.cells.length > 0 && cell.value === null);
        const label = `${cell.row} · ${cell.kind}: ${this.cellText(cell, mode, false)}`;
        td.setAttribute('aria-label', label);
        // The tooltip carries the exact value and the HF parameter names behind the cell.
        const exact = `${cell.row} · ${cell.kind}: ${this.cellText(cell, mode, true)}`;
        td.title = cell.cells.length ? `${exact}\n${cell.cells.map((b) => b.name).join('\n')}` : exact;
      }),
    );

    this.scrubber.max = String(Math.max(0, events.length - 1));
    this.scrubber.value = String(Math.max(0, index));
    this.scrubber.disabled = events.length < 2;
    this.play.disabled = events.length < 2;
    const stepText = grid.step === undefined ? '' : `step ${grid.step.toLocaleString('en-US')}${this.frame === null ? ' (latest)' : ''}`;
    this.scrubber.setAttribute('aria-valuetext', stepText || 'no summary yet');
    setText(this.stepLabel, stepText);
    setText(this.scaleMaxLabel, formatValue(max));
    this.empty.hidden = events.length > 0;
    this.renderDetails();
  }

  /** Names, legend and modes for the run's measure; a no-op while it stays the same. */
  private applyMeasure(measure: string, relative: boolean): void {
    if (measure === this.measure && relative === this.relativeShown) return;
    this.measure = measure;
    this.relativeShown = relative;
    const w = (this.words = wordsFor(measure));
    setText(this.title, w.title);
    this.table.setAttribute('aria-label', w.grid);
    setText(this.empty, w.empty);
    const v = this.modeButtons.value;
    setText(v, measure);
    v.title = w.valueHelp;
    const r = this.modeButtons.relative;
    setText(r, w.relativeLabel);
    r.title = w.relativeHelp;
    r.hidden = !relative;
    this.play.title = this.play.getAttribute('aria-label') === 'Stop the replay' ? 'Stop the replay' : `Replay the ${w.subject}`;
    if (this.timer === undefined) this.play.setAttribute('aria-label', this.play.title);
    this.scrubber.setAttribute('aria-label', `${w.title} summary to show`);
    this.updateModeButtons();
    this.detailsKey = '';
  }

  private cellText(cell: HeatCell, mode: HeatMode, exact: boolean): string {
    if (cell.cells.length === 0) return 'not trained';
    if (cell.value === null) return mode === 'relative' ? this.words.undefinedRelative : 'no data';
    const label = mode === 'value' ? this.measure : this.words.relativeLabel;
    return exact ? `${String(cell.value)} (${label})` : cell.value.toExponential(3);
  }

  private buildTable(rows: string[], kinds: string[], key: string): void {
    this.layoutKey = key;
    this.detailsKey = '';
    this.focus = { r: 0, k: 0 };
    const head = h('tr', {}, h('th', { scope: 'col', class: 'corner' }), ...kinds.map((k) => h('th', { scope: 'col', text: shortKind(k).replace('.', '.\u200b'), title: k })));
    this.cells = rows.map((row, r) =>
      kinds.map((kind, k) => h('td', { role: 'gridcell', tabindex: r === 0 && k === 0 ? 0 : -1, 'data-r': r, 'data-k': k, 'data-row': row, 'data-kind': kind })),
    );
    const body = rows.map((row, r) => h('tr', {}, h('th', { scope: 'row', text: row }), ...this.cells[r]!));
    this.table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
  }

  private onKey(e: KeyboardEvent): void {
    const rows = this.cells.length;
    const cols = this.cells[0]?.length ?? 0;
    if (!rows || !cols) return;
    let { r, k } = this.focus;
    switch (e.key) {
      case 'ArrowUp': r = Math.max(0, r - 1); break;
      case 'ArrowDown': r = Math.min(rows - 1, r + 1); break;
      case 'ArrowLeft': k = Math.max(0, k - 1); break;
      case 'ArrowRight': k = Math.min(cols - 1, k + 1); break;
      case 'Home': k = 0; if (e.ctrlKey) r = 0; break;
      case 'End': k = cols - 1; if (e.ctrlKey) r = rows - 1; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.select();
        return;
      default:
        return;
    }
    e.preventDefault();
    this.moveFocus(r, k);
  }

  private moveFocus(r: number, k: number): void {
    this.cells[this.focus.r]?.[this.focus.k]?.setAttribute('tabindex', '-1');
    this.focus = { r, k };
    const td = this.cells[r]![k]!;
    td.setAttribute('tabindex', '0');
    td.focus();
  }

  private select(): void {
    const { r, k } = this.focus;
    this.moveFocus(r, k);
    const td = this.cells[r]![k]!;
    this.selected = { row: td.dataset.row!, kind: td.dataset.kind! };
    this.renderDetails();
  }

  private renderDetails(): void {
    // Rebuilt only when what it shows changes: it is a live region, and renders come every frame.
    const key = `${this.selected?.row}|${this.selected?.kind}|${this.grid?.step}|${this.shownMode}|${this.run?.runId}`;
    if (key === this.detailsKey) return;
    this.detailsKey = key;
    for (const row of this.cells) for (const td of row) td.setAttribute('aria-selected', String(td.dataset.row === this.selected?.row && td.dataset.kind === this.selected?.kind));
    const grid = this.grid;
    const r = this.selected ? grid?.rows.indexOf(this.selected.row) ?? -1 : -1;
    const cell = r >= 0 ? grid!.cells[r]![grid!.kinds.indexOf(this.selected!.kind)] : undefined;
    if (!cell) {
      this.details.replaceChildren(h('p', { class: 'muted', text: 'Select a cell (click, or Enter) to see the units that moved most.' }));
      return;
    }
    const units = topUnits(cell, 12);
    const maxAbs = Math.max(1e-30, ...units.map((u) => Math.abs(u.delta)));
    const list = h('ol', { class: 'top-units', 'aria-label': 'Most-moved units' });
    for (const u of units) {
      const bar = h('span', { class: `bar ${u.delta < 0 ? 'neg' : 'pos'}`, 'aria-hidden': 'true' });
      bar.style.setProperty('--w', (Math.abs(u.delta) / maxAbs).toFixed(3));
      const unitName = cell.cells.length > 1 ? `${shortName(u.name)} [${u.index}]` : `unit ${u.index}`;
      list.append(h('li', {}, h('span', { class: 'unit', text: unitName }), bar, h('span', { class: 'delta', text: formatDelta(u.delta) })));
    }
    const lists = detailLists(cell);
    const summary = (b: HeatCell['cells'][number]) =>
      b.meanAbs !== undefined && this.measure === BITFIT_MEASURE
        ? `${b.name}: ${formatValue(b.meanAbs)} mean |Δ|, ${b.relative === null ? 'n/a' : formatValue(b.relative)} relative`
        : `${b.name}: ${formatValue(b.value)} ${this.measure}${b.relative !== null && b.relative !== b.value ? `, ${formatValue(b.relative)} relative` : ''}`;
    this.details.replaceChildren(
      h('h3', { text: `${cell.row} · ${cell.kind}` }),
      ...cell.cells.map((b) => h('p', { class: 'bias-name', title: b.name, text: summary(b) })),
      ...(units.length && lists.length ? [h('h4', { text: 'Most-moved units' })] : []),
      units.length ? list : h('p', { class: 'muted', text: cell.cells.length ? 'No unit changes recorded.' : this.words.absent }),
      ...lists.map((d) => detailList(d)),
    );
  }

  private setMode(mode: HeatMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.updateModeButtons();
    this.onModeChange(mode);
    this.render();
  }

  private updateModeButtons(): void {
    for (const [m, b] of Object.entries(this.modeButtons)) b.setAttribute('aria-pressed', String(m === this.shownMode));
  }

  private scaleFor(events: RunView['changes']): number {
    const c = this.scaleCache;
    const run = this.run?.runId ?? '';
    const mode = this.shownMode;
    if (c.events !== events.length || c.mode !== mode || c.run !== run) Object.assign(c, { events: events.length, mode, run, max: scaleMax(events, mode) });
    return c.max;
  }

  private startReplay(): void {
    const n = this.run?.changes.length ?? 0;
    if (n < 2) return;
    if (this.frame === null) this.frame = 0;
    this.play.replaceChildren(h('span', { class: 'codicon codicon-debug-pause', 'aria-hidden': 'true' }));
    this.play.setAttribute('aria-label', 'Stop the replay');
    this.play.title = 'Stop the replay';
    this.timer = window.setInterval(() => {
      const last = (this.run?.changes.length ?? 1) - 1;
      this.frame = this.frame === null || this.frame + 1 >= last ? null : this.frame + 1;
      if (this.frame === null) this.stopReplay();
      this.render();
    }, REPLAY_MS);
    this.render();
  }

  private stopReplay(): void {
    if (this.timer === undefined) return;
    window.clearInterval(this.timer);
    this.timer = undefined;
    this.play.replaceChildren(h('span', { class: 'codicon codicon-play', 'aria-hidden': 'true' }));
    this.play.setAttribute('aria-label', `Replay the ${this.words.subject}`);
    this.play.title = `Replay the ${this.words.subject}`;
  }
}

/** One of a method's detail lists (singular values, units): label, bar against the list's largest, value. */
function detailList(d: { title: string; items: Array<{ label: string; value: number }> }): HTMLElement {
  const maxAbs = Math.max(1e-30, ...d.items.map((i) => Math.abs(i.value)));
  const list = h('ol', { class: 'top-units detail-list', 'aria-label': d.title });
  for (const item of d.items) {
    const bar = h('span', { class: `bar ${item.value < 0 ? 'neg' : 'pos'}`, 'aria-hidden': 'true' });
    bar.style.setProperty('--w', (Math.abs(item.value) / maxAbs).toFixed(3));
    list.append(h('li', {}, h('span', { class: 'unit', text: item.label }), bar, h('span', { class: 'delta', text: formatValue(item.value) })));
  }
  return h('section', { class: 'detail', 'data-testid': 'heatmap-detail' }, h('h4', { text: d.title }), list);
}

/** Column headers: the kinds are long; the full name stays in the title. */
function shortKind(kind: string): string {
  return { 'attention.output': 'attn.out', 'attention.LayerNorm': 'attn.LN', intermediate: 'interm.', 'output.LayerNorm': 'out.LN' }[kind] ?? kind;
}


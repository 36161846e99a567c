/**
 * The study view, shared by the notebook renderer (a study cell's output) and the study tab: a header with
 * the progress (runs done / total, the current run and its step, failures), then the report — the
 * per-method table (best underlined, ≈ within seed noise), metric vs trainable parameters (and vs training
 * rows with a train_rows axis), and the what-moved grids side by side. The charts are SVG made by the
 * engine's svg.ts from the validated numbers, parsed as XML and copied element by element through an
 * allow-list (no scripts, no links, no event handlers), so nothing is ever assigned as HTML.
 */
import { studyProgressText, type StudyOutput } from '../../../protocol/study';
import { h, setText } from '../shared/dom';
import { parseStudyOutput, reportSvgs, reportTable } from './model';

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_ELEMENTS = new Set(['svg', 'g', 'rect', 'text', 'line', 'polyline', 'circle', 'title']);
const SVG_ATTRS = new Set(['width', 'height', 'viewBox', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'points', 'fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'opacity', 'font-family', 'font-size', 'font-weight', 'text-anchor', 'transform', 'dominant-baseline']);

export class StudyView {
  readonly root = h('div', { class: 'peft-study', 'data-testid': 'peft-study-output' });
  private readonly title = h('h3', { class: 'study-title' });
  private readonly progress = h('p', { class: 'study-progress', role: 'status', 'data-testid': 'study-progress' });
  private readonly bar = h('progress', { class: 'study-bar', max: 1, value: 0 });
  private readonly failures = h('ul', { class: 'study-failures', 'data-testid': 'study-failures' });
  private readonly table = h('div', { class: 'study-table' });
  private readonly charts = h('div', { class: 'study-charts', 'data-testid': 'study-charts' });
  private readonly grids = h('div', { class: 'study-grids', 'data-testid': 'study-grids' });
  private readonly actions = h('div', { class: 'study-actions' });
  /** The last charts drawn, by content: an update that does not change them leaves the DOM alone. */
  private drawnSvgs = '';

  constructor() {
    this.root.append(h('div', { class: 'study-head' }, this.title, this.actions), this.progress, this.bar, this.failures, this.table, this.charts, this.grids);
  }

  /** Extra controls in the header (the study tab's "report.md" / "results.csv" buttons). */
  addAction(el: HTMLElement): void {
    this.actions.append(el);
  }

  /** Draws `data`; returns false (and shows why) when it is not a valid study output. */
  update(data: unknown): boolean {
    const o = parseStudyOutput(data);
    if (typeof o === 'string') {
      this.root.replaceChildren(h('p', { class: 'error', text: `Cannot show this study: ${o}` }));
      return false;
    }
    this.draw(o);
    return true;
  }

  private draw(o: StudyOutput): void {
    this.root.dataset.status = o.status;
    this.root.dataset.name = o.name;
    setText(this.title, `Study: ${o.name}`);
    this.title.title = o.dir;
    const statusWord = o.status === 'starting' ? 'starting…' : o.status;
    setText(this.progress, o.error ? `${statusWord}: ${o.error}` : `${statusWord} · ${studyProgressText(o)}`);
    this.progress.classList.toggle('error', Boolean(o.error));
    this.bar.max = Math.max(1, o.total);
    this.bar.value = o.done;
    this.bar.hidden = o.status === 'finished';
    this.root.dataset.done = String(o.done);
    this.root.dataset.total = String(o.total);
    this.failures.replaceChildren(...o.failures.map((f) => h('li', {}, h('code', { text: f.id }), `: ${f.reason}`)));
    const r = o.report;
    if (!r) {
      this.table.replaceChildren(h('p', { class: 'muted', text: o.status === 'failed' ? '' : 'The report appears when the first run ends.' }));
      this.charts.replaceChildren();
      this.grids.replaceChildren();
      this.drawnSvgs = '';
      return;
    }
    this.drawTable(r);
    const svgs = reportSvgs(r);
    const key = svgs.map((s) => s.svg).join('\n');
    if (key === this.drawnSvgs) return;
    this.drawnSvgs = key;
    const figure = (s: { id: string; title: string; svg: string }) => h('figure', { class: `study-figure ${s.id}`, 'data-testid': `study-chart-${s.id}` }, toSvg(s.svg, s.title, s.id !== 'what-moved') ?? h('p', { class: 'error', text: 'chart could not be drawn' }));
    this.charts.replaceChildren(...svgs.filter((s) => s.id !== 'what-moved').map(figure));
    this.grids.replaceChildren(...svgs.filter((s) => s.id === 'what-moved').map(figure));
  }

  private drawTable(r: NonNullable<StudyOutput['report']>): void {
    const t = reportTable(r);
    const body = t.rows.map((cells, i) =>
      h(
        'tr',
        { 'data-testid': 'study-row', class: t.blockStarts.includes(i) && i > 0 ? 'block-start' : undefined },
        ...cells.map((c, j) => {
          const content = c.best ? h('u', { text: c.text }) : c.text;
          return h(j === 0 ? 'th' : 'td', { scope: j === 0 ? 'row' : undefined, class: [c.numeric ? 'num' : '', c.best ? 'best' : '', c.withinNoise ? 'noise' : ''].join(' ').trim() || undefined, title: c.title }, content);
        }),
      ),
    );
    const caption = `${r.total} runs: ${Object.entries(r.counts).map(([k, v]) => `${v} ${k}`).join(', ')}. Mean ± std over seeds; best underlined, ≈ within seed noise of the best.`;
    this.table.replaceChildren(
      h('table', { class: 'study-results', 'data-testid': 'study-table' }, h('caption', { text: caption }), h('thead', {}, h('tr', {}, ...t.header.map((x) => h('th', { scope: 'col', text: x })))), h('tbody', {}, ...body)),
    );
  }

  setTheme(): void {
    // The charts are report images on their own white card; the table follows the theme through CSS.
  }

  dispose(): void {
    this.root.replaceChildren();
  }
}

/**
 * SVG text → a detached SVG element, keeping only allow-listed elements and attributes. `fit`: scale down
 * to the container (charts); else drawn at its own size, the container scrolling (the grids, whose cells
 * would be unreadable shrunk).
 */
export function toSvg(text: string, label: string, fit = true): SVGSVGElement | undefined {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const src = doc.documentElement;
  if (src.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) return undefined;
  const copy = (node: Element): Element | undefined => {
    if (!SVG_ELEMENTS.has(node.localName)) return undefined;
    const el = document.createElementNS(SVG_NS, node.localName);
    for (const a of Array.from(node.attributes)) if (SVG_ATTRS.has(a.name)) el.setAttribute(a.name, a.value);
    for (const child of Array.from(node.childNodes)) {
      if (child.nodeType === 3) el.append(child.textContent ?? '');
      else if (child.nodeType === 1) {
        const c = copy(child as Element);
        if (c) el.append(c);
      }
    }
    return el;
  };
  const svg = copy(src) as SVGSVGElement | undefined;
  if (!svg) return undefined;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  if (fit) {
    // Scales down to the output's width, keeping its aspect (viewBox), and never above its drawn size.
    const natural = Number(svg.getAttribute('width'));
    if (natural > 0) svg.style.maxWidth = `${natural}px`;
    svg.removeAttribute('height');
    svg.setAttribute('width', '100%');
  }
  svg.classList.add('study-svg');
  return svg;
}

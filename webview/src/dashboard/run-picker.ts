/**
 * The run list: a checkbox per run overlays it on the charts; the target button makes it the focused run
 * (first in the selection: cards, heatmap and the pause/stop buttons follow it). Every change is posted as
 * `dashboard/select`; the host is the source of truth and echoes the selection in its next snapshot.
 */
import { runMethodLabel } from '../../../protocol/method';
import type { RunView } from '../../../protocol/webview';
import { h, iconButton } from '../shared/dom';

const MAX_SELECTED = 16; // protocol limit (WebviewToHostSchema)

export class RunPicker {
  readonly root = h('nav', { class: 'run-picker', 'aria-label': 'Runs' });
  private readonly list = h('ul', { class: 'run-list' });
  private key = '';

  constructor(private readonly onSelect: (runIds: string[]) => void) {
    this.root.append(h('h2', { text: 'Runs' }), this.list);
  }

  update(runs: readonly RunView[], selected: readonly string[], colors: ReadonlyMap<string, string>): void {
    const key = JSON.stringify([runs.map((r) => [r.runId, r.label, r.status, r.started?.runId]), selected, [...colors]]);
    if (key === this.key) return;
    this.key = key;
    // Rebuilding moves keyboard focus out of the list; put it back on the same control afterwards.
    const active = document.activeElement as HTMLElement | null;
    const refocus = active && this.list.contains(active) ? `[data-run-id="${CSS.escape(active.dataset.runId ?? '')}"][data-role="${active.dataset.role}"]` : undefined;

    if (runs.length === 0) this.list.replaceChildren(h('li', { class: 'muted', text: 'No runs yet. Start one from the PEFT Studio view.' }));
    else this.list.replaceChildren(...[...runs].reverse().map((r) => this.row(r, selected, colors.get(r.runId))));
    if (refocus) (this.list.querySelector(refocus) as HTMLElement | null)?.focus();
  }

  private row(run: RunView, selected: readonly string[], color: string | undefined): HTMLLIElement {
    const checked = selected.includes(run.runId);
    const focused = selected[0] === run.runId;
    const box = h('input', { type: 'checkbox', checked, 'data-run-id': run.runId, 'data-role': 'toggle', 'aria-label': `Show ${run.label} on the charts` });
    // The last shown run cannot be unchecked: an empty selection would fall back to the newest run anyway.
    box.disabled = checked && selected.length === 1;
    box.addEventListener('change', () => {
      const next = box.checked ? [...selected, run.runId] : selected.filter((id) => id !== run.runId);
      this.onSelect(next.slice(0, MAX_SELECTED));
    });
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    if (color && checked) swatch.style.setProperty('--swatch', color);
    const focus = iconButton(focused ? 'circle-large-filled' : 'circle-large', focused ? `${run.label} is the focused run` : `Focus ${run.label}`);
    focus.dataset.runId = run.runId;
    focus.dataset.role = 'focus';
    focus.setAttribute('aria-pressed', String(focused));
    focus.addEventListener('click', () => this.onSelect([run.runId, ...selected.filter((id) => id !== run.runId)].slice(0, MAX_SELECTED)));
    return h(
      'li',
      { class: `run-row${focused ? ' focused' : ''}`, 'data-testid': `run-${run.runId}` },
      h(
        'label',
        {},
        box,
        swatch,
        h('span', { class: 'run-text' }, h('span', { class: 'run-label', title: run.runId, text: run.label }), ...(run.started ? [h('span', { class: 'run-method muted', 'data-testid': 'run-method', text: runMethodLabel({ view: run }) })] : [])),
      ),
      h('span', { class: `badge status-${run.status}`, text: run.status }),
      focus,
    );
  }
}

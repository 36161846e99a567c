/**
 * The model's tensors by HF checkpoint name. Modules look their tensors up here at call time rather than
 * holding them, so a PEFT method can swap a frozen tensor for a trainable `tf.Variable` (or wrap it) under
 * the same name and the forward pass picks it up with no other change.
 */
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';

export class ParamStore {
  private readonly tensors = new Map<string, tf.Tensor>();
  /** Wᵀ of frozen 2-D weights, made on first use (see layers.ts `linear`). */
  private readonly transposed = new Map<string, tf.Tensor>();
  /** Frozen 2-D weights stacked along their output axis, and the stack's transpose, by their names. */
  private readonly stacked = new Map<string, { names: string[]; w: tf.Tensor; wt: tf.Tensor }>();
  /**
   * Tensors made from others at each use (a method that trains single entries of a frozen tensor builds it
   * from the frozen values and its trained ones). `get` returns a new tensor each call: call it inside tidy.
   */
  private readonly computed = new Map<string, () => tf.Tensor>();

  get(name: string): tf.Tensor {
    const make = this.computed.get(name);
    if (make) return make();
    const t = this.tensors.get(name);
    if (!t) throw new PeftStudioError('WEIGHTS_MISMATCH', `model parameter "${name}" is not loaded`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Puts a tensor under `name`, disposing the one it replaces unless that one is `keepOld`. */
  set(name: string, t: tf.Tensor, keepOld = false): void {
    const old = this.tensors.get(name);
    if (old && old !== t && !keepOld) old.dispose();
    this.transposed.get(name)?.dispose();
    this.transposed.delete(name);
    this.computed.delete(name);
    for (const [key, s] of this.stacked) {
      if (!s.names.includes(name)) continue;
      tf.dispose([s.w, s.wt]);
      this.stacked.delete(key);
    }
    this.tensors.set(name, t);
  }

  /**
   * Wᵀ of a frozen weight, cached. Undefined for trainable ones (a Variable changes every step).
   * Why: backends run a plain matMul(x, Wᵀ) much faster than matMul(x, W, transposeB) (wasm sends
   * transposed products to a scalar loop), and a frozen weight is transposed once per model, not per call.
   */
  frozenTransposed(name: string): tf.Tensor | undefined {
    if (this.computed.has(name)) return undefined;
    const w = this.get(name);
    if (w instanceof tf.Variable || w.rank !== 2) return undefined;
    let t = this.transposed.get(name);
    if (!t) {
      t = tf.keep(tf.transpose(w)); // kept: a forward pass runs inside tidy, the cache outlives it
      this.transposed.set(name, t);
    }
    return t;
  }

  /**
   * Frozen weights [out_i, in] stacked into W = [Σ out_i, in], and Wᵀ, cached; undefined unless every one is
   * frozen (not a Variable), 2-D and of the same input size. Why: one product x·Wᵀ makes every projection
   * that reads the same x (BERT's query, key and value) in one pass over x, with the same sums as separate ones.
   */
  frozenStacked(names: string[]): { w: tf.Tensor; wt: tf.Tensor } | undefined {
    if (names.some((n) => this.computed.has(n))) return undefined;
    const key = names.join('\n');
    const cached = this.stacked.get(key);
    if (cached) return cached;
    const ws = names.map((n) => this.get(n));
    if (ws.some((w) => w instanceof tf.Variable || w.rank !== 2 || w.shape[1] !== ws[0]!.shape[1])) return undefined;
    // Kept: a forward pass runs inside tidy, the cache outlives it.
    const w = tf.keep(tf.concat(ws, 0));
    const entry = { names: [...names], w, wt: tf.keep(tf.transpose(w)) };
    this.stacked.set(key, entry);
    return entry;
  }

  /**
   * Makes `name` a computed tensor (`make()` at every `get`), or plain again with `make` undefined. The
   * stored tensor stays (its frozen values, what `entries()` and parameter counts see).
   */
  setComputed(name: string, make: (() => tf.Tensor) | undefined): void {
    this.get(name); // must exist
    this.set(name, this.tensors.get(name)!, true); // drops cached transposes and stacks that include it
    if (make) this.computed.set(name, make);
    else this.computed.delete(name);
  }

  /** The stored tensor under `name`, also when `get` computes it (the frozen values it is made from). */
  peekStored(name: string): tf.Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new PeftStudioError('WEIGHTS_MISMATCH', `model parameter "${name}" is not loaded`);
    return t;
  }

  isComputed(name: string): boolean {
    return this.computed.has(name);
  }

  /** Removes and disposes a tensor (a method's own tensor after it was merged into the weights). */
  delete(name: string): void {
    const t = this.tensors.get(name);
    if (!t) return;
    this.set(name, t, true); // drops cached transposes and stacks that include it
    this.tensors.delete(name);
    t.dispose();
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  entries(): IterableIterator<[string, tf.Tensor]> {
    return this.tensors.entries();
  }

  get size(): number {
    return this.tensors.size;
  }

  numParameters(filter: (name: string) => boolean = () => true): number {
    let n = 0;
    for (const [name, t] of this.tensors) if (filter(name)) n += t.size;
    return n;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    for (const t of this.transposed.values()) t.dispose();
    for (const s of this.stacked.values()) tf.dispose([s.w, s.wt]);
    this.tensors.clear();
    this.transposed.clear();
    this.stacked.clear();
    this.computed.clear();
  }
}

/**
 * A model's tensors as one shared base plus its own: reads fall through to `base` for names this store does
 * not hold, writes stay here, and disposing frees only this store's own tensors. Many task models (one per
 * adapter, each with its own head) share one loaded encoder this way, so a second task costs its adapter's
 * size, not a second model. Frozen transposes and stacks of base tensors are the base's (shared) caches.
 */
export class OverlayParamStore extends ParamStore {
  constructor(private readonly base: ParamStore) {
    super();
  }

  override get(name: string): tf.Tensor {
    return super.has(name) ? super.get(name) : this.base.get(name);
  }

  override has(name: string): boolean {
    return super.has(name) || this.base.has(name);
  }

  override names(): string[] {
    const own = super.names();
    const seen = new Set(own);
    return [...this.base.names().filter((n) => !seen.has(n)), ...own];
  }

  override *entries(): IterableIterator<[string, tf.Tensor]> {
    for (const n of this.names()) yield [n, this.get(n)];
  }

  override get size(): number {
    return this.names().length;
  }

  override numParameters(filter: (name: string) => boolean = () => true): number {
    let n = 0;
    for (const name of this.names()) if (filter(name)) n += this.get(name).size;
    return n;
  }

  override frozenTransposed(name: string): tf.Tensor | undefined {
    return super.has(name) ? super.frozenTransposed(name) : this.base.frozenTransposed(name);
  }

  override frozenStacked(names: string[]): { w: tf.Tensor; wt: tf.Tensor } | undefined {
    return names.some((n) => super.has(n)) ? super.frozenStacked(names) : this.base.frozenStacked(names);
  }
}

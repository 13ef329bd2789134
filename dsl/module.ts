// The model DSL: Modules whose forward() runs once on symbolic tensors (tracing) and records the
// graph IR. A model reads like the paper: naive adds and norms, activations after a chunked
// projection; fusion, paged-KV binding and dtype choices are the compiler's business.
import type { ElementDType, Graph, InputName, MoeActivation, Node, Op, RowDim, Value } from "../codegen/trace/graph.ts";
import type { Float } from "./dtype.ts";

class Recorder {
  readonly nodes: Node[] = [];
  readonly weights = new Map<string, number[]>();
  private nextId = 0;
  constructor(readonly activationDType: Float) {}

  emit(op: Op, dtype: ElementDType, rows: RowDim | number, inner: number[]): Tensor {
    const value: Value = { id: this.nextId++, dtype, rows, inner };
    this.nodes.push({ ...op, value } as Node);
    return new Tensor(this, value);
  }
}

let active: Recorder | undefined;

function recorder(): Recorder {
  if (!active) throw new Error("model ops can only run inside trace()");
  return active;
}

export class Tensor {
  constructor(private readonly rec: Recorder, readonly value: Value) {}

  get id(): number {
    return this.value.id;
  }
  /** Size of the last dim. */
  get width(): number {
    return this.value.inner[this.value.inner.length - 1];
  }
  private get features(): number {
    return this.value.inner.reduce((a, b) => a * b, 1);
  }

  private same(op: Op): Tensor {
    return this.rec.emit(op, this.value.dtype, this.value.rows, this.value.inner);
  }

  add(other: Tensor): Tensor {
    return this.same({ op: "add", a: this.id, b: other.id });
  }
  mul(other: Tensor): Tensor {
    return this.same({ op: "mul", a: this.id, b: other.id });
  }
  scale(factor: number): Tensor {
    return factor === 1 ? this : this.same({ op: "scale", x: this.id, factor });
  }
  softcap(cap: number | null): Tensor {
    return cap ? this.same({ op: "softcap", x: this.id, cap }) : this;
  }
  /** Reinterprets the features of each row, e.g. [heads * headDim] as [heads, headDim]. */
  view(...inner: number[]): Tensor {
    if (inner.reduce((a, b) => a * b, 1) !== this.features) throw new Error(`view [${inner}] does not match ${this.features} features`);
    return this.rec.emit({ op: "view", x: this.id }, this.value.dtype, this.value.rows, inner);
  }
  /** Splits the features of each row into consecutive pieces of the given sizes. */
  split(sizes: number[]): Tensor[] {
    let offset = 0;
    return sizes.map((size) => {
      const t = this.rec.emit({ op: "slice", x: this.id, offset, size }, this.value.dtype, this.value.rows, [size]);
      offset += size;
      return t;
    });
  }
  chunk(n: number): Tensor[] {
    return this.split(new Array(n).fill(this.features / n));
  }
  /** Picks rows by index (the positions whose logits are wanted). */
  gather(index: Tensor): Tensor {
    return this.rec.emit({ op: "gather", x: this.id, index: index.id }, this.value.dtype, index.value.rows, this.value.inner);
  }
}

export function silu(x: Tensor): Tensor {
  return recorder().emit({ op: "silu", x: x.id }, x.value.dtype, x.value.rows, x.value.inner);
}

export function geluTanh(x: Tensor): Tensor {
  return recorder().emit({ op: "geluTanh", x: x.id }, x.value.dtype, x.value.rows, x.value.inner);
}

/** A named weight of the model; its dtype is decided when weights are loaded. */
export class Parameter {
  constructor(readonly name: string, readonly shape: number[]) {}
  tensor(): Tensor {
    const rec = recorder();
    rec.weights.set(this.name, this.shape);
    return rec.emit({ op: "weight", name: this.name }, rec.activationDType, this.shape[0], this.shape.slice(1));
  }
}

export abstract class Module {
  protected param(name: string, shape: number[]): Parameter {
    return new Parameter(name, shape);
  }
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /**
   * outputSlices: the output sizes of the projections a fused linear stacks (q, k, v; gate, up), in
   * order, which a LoRA adapter trains apart; absent for one projection.
   */
  constructor(name: string, readonly inFeatures: number, readonly outFeatures: number, bias = false, readonly outputSlices?: number[]) {
    super();
    if (outputSlices && outputSlices.reduce((a, b) => a + b, 0) !== outFeatures) throw new Error(`${name}: output slices [${outputSlices}] do not add up to ${outFeatures}`);
    this.weight = this.param(`${name}.weight`, [outFeatures, inFeatures]);
    this.bias = bias ? this.param(`${name}.bias`, [outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    const w = this.weight.tensor();
    const b = this.bias?.tensor() ?? null;
    const slices = this.outputSlices ? { slices: this.outputSlices } : {};
    return recorder().emit({ op: "linear", x: x.id, weight: w.id, bias: b ? b.id : null, ...slices }, x.value.dtype, x.value.rows, [this.outFeatures]);
  }
}

export class RMSNorm extends Module {
  readonly weight: Parameter;
  /** weightOffset 1 gives Gemma's (1 + w) scaling. */
  constructor(name: string, readonly size: number, readonly eps: number, readonly weightOffset = 0) {
    super();
    this.weight = this.param(`${name}.weight`, [size]);
  }
  forward(x: Tensor): Tensor {
    const w = this.weight.tensor();
    return recorder().emit({ op: "rmsNorm", x: x.id, weight: w.id, eps: this.eps, weightOffset: this.weightOffset }, x.value.dtype, x.value.rows, x.value.inner);
  }
}

/** LayerNorm without a bias (Cohere's): the mean is subtracted before scaling by w. */
export class LayerNorm extends Module {
  readonly weight: Parameter;
  constructor(name: string, readonly size: number, readonly eps: number) {
    super();
    this.weight = this.param(`${name}.weight`, [size]);
  }
  forward(x: Tensor): Tensor {
    const w = this.weight.tensor();
    return recorder().emit({ op: "layerNorm", x: x.id, weight: w.id, eps: this.eps }, x.value.dtype, x.value.rows, x.value.inner);
  }
}

export class Embedding extends Module {
  readonly weight: Parameter;
  constructor(name: string, readonly numEmbeddings: number, readonly dim: number) {
    super();
    this.weight = this.param(`${name}.weight`, [numEmbeddings, dim]);
  }
  forward(ids: Tensor, scale = 1): Tensor {
    const w = this.weight.tensor();
    return recorder().emit({ op: "embedding", ids: ids.id, table: w.id, scale }, recorder().activationDType, ids.value.rows, [this.dim]);
  }
}

export interface FusedMoEOptions {
  numExperts: number;
  topK: number;
  intermediateSize: number;
  renormalize: boolean;
  /** SiLU unless given (GPT-OSS: its clamped SwiGLU). */
  activation?: MoeActivation;
  /** Whether each projection has a bias per expert output (GPT-OSS), named as its weight with .bias. */
  bias?: boolean;
}

/**
 * A sparse mixture-of-experts MLP's experts (vLLM's FusedMoE): numExperts gated MLPs whose gate,
 * up and down projections are each one parameter, the experts stacked by rows. forward() runs
 * each token through the topK experts its router logits [T, numExperts] rank highest, weighted by
 * the router's softmax (over the chosen ones when renormalize).
 */
export class FusedMoE extends Module {
  readonly gateProj: Parameter;
  readonly upProj: Parameter;
  readonly downProj: Parameter;
  readonly biases: { gate: Parameter; up: Parameter; down: Parameter } | null;
  constructor(names: { gate: string; up: string; down: string }, readonly hiddenSize: number, readonly options: FusedMoEOptions) {
    super();
    const { numExperts: E, intermediateSize: I } = options;
    this.gateProj = this.param(names.gate, [E * I, hiddenSize]);
    this.upProj = this.param(names.up, [E * I, hiddenSize]);
    this.downProj = this.param(names.down, [E * hiddenSize, I]);
    const biasOf = (weight: string, size: number) => this.param(weight.replace(/\.weight$/, ".bias"), [size]);
    this.biases = options.bias ? { gate: biasOf(names.gate, E * I), up: biasOf(names.up, E * I), down: biasOf(names.down, E * hiddenSize) } : null;
  }
  /** shared: a shared expert's output [T, hidden] and its gate logit [T, 1], added as sigmoid(gate) * output. */
  forward(x: Tensor, routerLogits: Tensor, shared?: { output: Tensor; gate: Tensor }): Tensor {
    const [gate, up, down] = [this.gateProj.tensor(), this.upProj.tensor(), this.downProj.tensor()];
    const { topK, renormalize } = this.options;
    const sharedIds = { shared: shared?.output.id ?? null, sharedGate: shared?.gate.id ?? null };
    const biases = this.biases && { gate: this.biases.gate.tensor().id, up: this.biases.up.tensor().id, down: this.biases.down.tensor().id };
    const activation = this.options.activation ?? { kind: "silu" };
    return recorder().emit({ op: "moe", x: x.id, router: routerLogits.id, gate: gate.id, up: up.id, down: down.id, topK, renormalize, ...sharedIds, biases, activation }, x.value.dtype, x.value.rows, [this.hiddenSize]);
  }
}

export interface RotaryOptions {
  layout: "neox" | "gptj";
  /** Rotated dims per head (head_dim unless partial rotary). */
  rotaryDim: number;
  /** Which inverse-frequency table (models with several, like Gemma-3, name them). */
  key?: string;
}

export function rope(x: Tensor, positions: Tensor, options: RotaryOptions): Tensor {
  return recorder().emit({ op: "rope", x: x.id, positions: positions.id, layout: options.layout, rotaryDim: options.rotaryDim, ropeKey: options.key ?? "default" }, x.value.dtype, x.value.rows, x.value.inner);
}

export interface AttentionOptions {
  scale: number;
  softcap?: number | null;
  slidingWindow?: number | null;
  /** GPT-OSS's attention sinks: a learned logit per query head in each softmax's denominator. */
  sinks?: Parameter | null;
}

/** The paged KV cache as the model sees it: attend() stores this step's k/v and reads history. */
export class PagedKV {
  attend(layer: number, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
    return recorder().emit(
      { op: "attention", layer, q: q.id, k: k.id, v: v.id, scale: options.scale, softcap: options.softcap ?? 0, window: options.slidingWindow ?? 0, sinks: options.sinks?.tensor().id ?? null },
      q.value.dtype,
      q.value.rows,
      q.value.inner,
    );
  }
}

/** What every forward() receives besides token ids: the step's metadata, flattened by the runner. */
export interface StepCtx {
  positions: Tensor;
  kv: PagedKV;
  logitsIndices: Tensor;
}

export interface CausalLM {
  readonly numLayers: number;
  forward(inputIds: Tensor, ctx: StepCtx): Tensor;
}

/** Runs forward() on symbolic inputs and returns the recorded graph. */
export function trace(model: CausalLM, activationDType: Float): Graph {
  const rec = new Recorder(activationDType);
  active = rec;
  try {
    const input = (name: InputName, rows: RowDim | number, inner: number[] = []) => rec.emit({ op: "input", name }, "i32", rows, inner);
    const inputIds = input("inputIds", "T");
    const ctx: StepCtx = { positions: input("positions", "T"), kv: new PagedKV(), logitsIndices: input("logitsIndices", "L") };
    input("slotMapping", "T");
    input("seqIdx", "T");
    input("blockTables", 0, [0]);
    const out = model.forward(inputIds, ctx);
    return { nodes: rec.nodes, output: out.id, weights: rec.weights, numLayers: model.numLayers };
  } finally {
    active = undefined;
  }
}

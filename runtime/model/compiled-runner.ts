// The ModelRunner backed by a compiled model: weights live in JS typed arrays referenced (not
// copied) by the native Model object, which owns the KV cache and runs one forward per step.
import { loadAddon } from "../../codegen/build/load-addon.ts";
import type { ForwardProgram } from "../../codegen/emit/forward.ts";
import type { LoraLimits, WeightSpec } from "../../codegen/emit/forward-types.ts";
import type { Float } from "../../dsl/dtype.ts";
import { TsvllmError } from "../errors.ts";
import { maxLogitEditsPerRow, type DeviceSampling, type LoraRunner, type ModelInput, type ModelRunner, type ModelRunnerConfig } from "../engine/model-runner.ts";
import { checkAdapterFits, loraTargets, packSlot, type LoraTarget } from "../lora/slot-tables.ts";
import { architectureOf } from "../../models/registry.ts";
import type { LoadedModel } from "../loader/types.ts";
import type { ModelDTypes } from "./compile-model.ts";
import { nativePanelPacker, prepareWeights, type PackingAddon, type PreparedWeight } from "./weights.ts";

/** One kernel launch of a profiled step: its index in the forward pass, what it computes, and its device time. */
export interface LaunchTime {
  launch: number;
  what: string;
  milliseconds: number;
}

type StepArguments = [inputIds: Int32Array, positions: Int32Array, slotMapping: Int32Array, seqIdx: Int32Array, blockTables: Int32Array, logitsIndices: Int32Array, logits: Float32Array, numSeqs: number, maxBlocksPerSeq: number];
type Sampled = DeviceSampling & { sampledTokenIds: Int32Array };

interface NativeModel {
  /** With sampling, samples its rows in the forward pass into sampledTokenIds; an empty logits array asks for none back. loraSlots: ModelInput.loraSlots. */
  forward(...args: [...StepArguments, sampling?: Sampled, loraSlots?: Int32Array]): void;
  profile(...args: [...StepArguments, sampling?: undefined, loraSlots?: Int32Array]): LaunchTime[];
  /** Overwrites bytes of weight `index` from byteOffset (a LoRA slot). */
  writeWeight(index: number, byteOffset: number, data: Float32Array | Uint16Array): void;
  copyBlocks(src: Int32Array, dst: Int32Array): void;
  initializeSwapSpace(numBlocks: number): void;
  swapBlocks(swapOut: Int32Array, swapIn: Int32Array): void;
}

export interface ModelAddon extends PackingAddon {
  Model: new (weights: PreparedWeight[], options: { numBlocks: number; maxTokens: number; maxLogitRows: number; maxSampleRows: number; maxLogitEdits: number; maxBlockTableEntries: number; enforceEager?: boolean; kvCacheScales?: Float64Array }) => NativeModel;
  setNumThreads(n: number): void;
  /** The device's free and total bytes (zeros in CPU builds); throws when there is no usable device. */
  deviceMemory(): { free: number; total: number };
  /** Where the kernels run. */
  backend: "cpu" | "cuda";
}

export interface CompiledRunnerOptions {
  dtype?: "auto" | Float;
  blockSize?: number;
  /** The most tokens one step can hold (maxNumBatchedTokens). */
  maxNumBatchedTokens: number;
  /** The most sequences one step can hold (maxNumSeqs). */
  maxNumSeqs?: number;
  /** The most logits rows one step can ask for (sampled rows plus prompt log-prob rows). */
  maxLogitRows?: number;
  /** Drafts a sequence may verify per step (speculative decoding): each adds a sampled row. */
  numSpeculativeTokens?: number;
  threads?: number;
  /**
   * Which rows the forward pass samples (ModelRunner.forwardSampling); by default all on CUDA,
   * where it keeps the logits on the device, and greedy ones on CPU, where the logits are in host
   * memory anyway and the native sampler's sort beats sampleRows' bisection passes (8 rows of a
   * 32000 vocabulary at temperature 1: 0.7 against 5.0 ms; greedy: 0.6 against 0.5 ms).
   */
  forwardSampling?: "all" | "greedy";
  /** vLLM's enforce_eager: CUDA builds launch every kernel of every step instead of replaying a
   *  graph per decode-step shape (runtime/native/model.cc). No effect on CPU. */
  enforceEager?: boolean;
  /** The LoRA slots the model is compiled with (CompileOptions.lora). */
  lora?: LoraLimits;
  /** Compiled as a pooling model (CompileOptions.pooling): its rows are hidden states (ModelRunner.poolingWidth). */
  pooling?: boolean;
  /** The engine's max_model_len, which picks LongRoPE's factors (default: the model's max_position_embeddings). */
  maxModelLen?: number;
  onProgress?: (message: string) => void;
}

/** What running a compiled model needs: its addon and the forward pass's contract. */
export interface ModelArtifact {
  addonPath: string;
  weights: WeightSpec[];
  dtypes: ModelDTypes;
  blockSize: number;
  rotaryDim: number;
  /** The forward's activation buffers (ForwardProgram.buffers), for sizing device memory. */
  buffers?: ForwardProgram["buffers"];
}

export class CompiledModelRunner implements ModelRunner {
  readonly config: ModelRunnerConfig;
  readonly forwardSampling: "all" | "greedy";
  private native: NativeModel | undefined;
  /** The model's addon; it also exports the native sampler. */
  readonly addon: ModelAddon;
  private readonly weights: PreparedWeight[];
  /** k, v per layer: the checkpoint's KV cache scales, which vLLM applies only to an fp8 e4m3 cache. */
  private readonly kvCacheScales: Float64Array | undefined;
  readonly lora: LoraRunner | undefined;
  readonly poolingWidth: number | undefined;

  private constructor(
    readonly artifact: ModelArtifact,
    loaded: LoadedModel,
    private readonly options: CompiledRunnerOptions,
  ) {
    const c = loaded.config;
    this.config = {
      numLayers: c.numHiddenLayers,
      numKvHeads: c.numKeyValueHeads,
      headDim: c.headDim,
      dtypeBytes: { f32: 4, f16: 2, bf16: 2, fp8e4m3: 1, fp8e5m2: 1 }[artifact.dtypes.kvCache],
      vocabSize: c.vocabSize,
      maxModelLen: c.maxPositionEmbeddings,
    };
    this.poolingWidth = options.pooling ? c.hiddenSize : undefined;
    this.addon = loadAddon<ModelAddon>(artifact.addonPath);
    if (options.threads) this.addon.setNumThreads(options.threads);
    this.forwardSampling = options.forwardSampling ?? (this.addon.backend === "cuda" ? "all" : "greedy");
    const scales = artifact.dtypes.kvCache === "fp8e4m3" ? c.kvCacheScales : undefined;
    this.kvCacheScales = scales && Float64Array.from(scales.flatMap(({ k, v }) => [k, v]));
    this.weights = prepareWeights(loaded, artifact.weights, artifact.dtypes.weight, artifact.rotaryDim, nativePanelPacker(this.addon), options.maxModelLen);
    this.lora = options.lora && this.loraRunner(options.lora, loraTargets(artifact.weights, architectureOf(c).weightMap));
  }

  private loraRunner(limits: LoraLimits, targets: LoraTarget[]): LoraRunner {
    if (targets.length === 0) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "enable_lora: the compiled model has no LoRA tables (compile it with the same maxLoras and maxLoraRank)", "enable_lora");
    return {
      ...limits,
      checkAdapter: (adapter) => checkAdapterFits(adapter, targets),
      setSlot: (slot, adapter) => {
        if (!Number.isInteger(slot) || slot < 0 || slot >= limits.maxLoras) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA slot ${slot} is not one of the model's ${limits.maxLoras}`, "max_loras");
        for (const target of targets) {
          const values = packSlot(target, adapter);
          this.requireNative().writeWeight(target.weightIndex, slot * values.byteLength, values);
        }
      },
    };
  }

  /** Loads a compiled model (see createModelRunner in load-runner.ts, which compiles first). */
  static fromArtifact(loaded: LoadedModel, artifact: ModelArtifact, options: CompiledRunnerOptions): CompiledModelRunner {
    return new CompiledModelRunner(artifact, loaded, options);
  }

  initializeKvCache(numBlocks: number, blockSize: number): void {
    if (blockSize !== this.artifact.blockSize) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `the model was compiled for block size ${this.artifact.blockSize}, not ${blockSize}`, "block_size");
    const maxTokens = this.options.maxNumBatchedTokens;
    // Every block table row is at most numBlocks long, and a step holds at most maxTokens sequences.
    const maxBlockTableEntries = Math.min(maxTokens, this.options.maxNumSeqs ?? maxTokens) * numBlocks;
    this.native = new this.addon.Model(this.weights, { numBlocks, maxTokens, maxLogitRows: this.options.maxLogitRows ?? maxTokens, maxSampleRows: this.maxSampleRows, maxLogitEdits: this.maxSampleRows * maxLogitEditsPerRow, maxBlockTableEntries, enforceEager: this.options.enforceEager ?? false, ...(this.kvCacheScales ? { kvCacheScales: this.kvCacheScales } : {}) });
  }

  initializeSwapSpace(numBlocks: number): void {
    this.requireNative().initializeSwapSpace(numBlocks);
  }

  swapBlocks(swapOut: Int32Array, swapIn: Int32Array): void {
    this.requireNative().swapBlocks(swapOut, swapIn);
  }

  private requireNative(): NativeModel {
    if (!this.native) throw new TsvllmError("TSVLLM_ERR_NATIVE", "initializeKvCache() must be called first");
    return this.native;
  }

  /** A step samples one row per running sequence (within maxNumSeqs) and one per draft (within the token budget too). */
  private get maxSampleRows(): number {
    const { maxNumSeqs, maxNumBatchedTokens, numSpeculativeTokens } = this.options;
    const seqs = maxNumSeqs ?? maxNumBatchedTokens;
    return seqs + Math.min(seqs * (numSpeculativeTokens ?? 0), maxNumBatchedTokens);
  }

  /** The device's free and total bytes (CUDA builds; zeros on CPU). Throws when there is no usable device. */
  deviceMemory(): { free: number; total: number } {
    try {
      return this.addon.deviceMemory();
    } catch (e) {
      throw new TsvllmError("TSVLLM_ERR_NATIVE", (e as Error).message, "device");
    }
  }

  /**
   * Bytes the model holds on its device besides the KV cache, as model.cc allocates them for this
   * runner's limits: `fixed` (weights, activation buffers, staged step inputs and logits) and
   * `perBlock` (the staged block tables: 4 bytes per KV block per sequence a step can hold).
   */
  residentBytes(): { fixed: number; perBlock: number } {
    const maxTokens = this.options.maxNumBatchedTokens;
    const maxLogitRows = this.options.maxLogitRows ?? maxTokens;
    const weights = this.weights.flat().reduce((a, w) => a + w.byteLength, 0);
    const buffers = (this.artifact.buffers ?? []).reduce((a, b) => a + b.bytesPerRow * { T: maxTokens, L: maxLogitRows, W: 1 }[b.rows], 0);
    // Sampling: 8 columns of maxSampleRows + 1 (model.cc), and 4 bytes for each of an edit's 4 fields.
    const sampling = 4 * 8 * (this.maxSampleRows + 1) + 16 * this.maxSampleRows * maxLogitEditsPerRow;
    const inputs = 4 * (4 * maxTokens + maxLogitRows) + 4 * maxLogitRows * this.rowWidth + sampling;
    return { fixed: weights + buffers + inputs, perBlock: 4 * Math.min(maxTokens, this.options.maxNumSeqs ?? maxTokens) };
  }

  /** Values per logits row: the vocabulary, or a pooling model's hidden size. */
  private get rowWidth(): number {
    return this.poolingWidth ?? this.config.vocabSize;
  }

  execute(input: ModelInput): Float32Array {
    return this.step(input, "forward").logits;
  }

  executeAndSample(input: ModelInput, sampling: DeviceSampling, returnLogits: boolean): { tokenIds: Int32Array; logits: Float32Array | null } {
    const tokenIds = new Int32Array(sampling.rowIndices.length);
    const logits = new Float32Array(returnLogits ? input.logitsIndices.length * this.rowWidth : 0);
    this.requireNative().forward(...this.stepArguments(input, logits), { ...sampling, sampledTokenIds: tokenIds }, input.loraSlots ?? undefined);
    return { tokenIds, logits: returnLogits ? logits : null };
  }

  /** Runs the step like execute(), also returning each kernel launch's device time in launch order. */
  profile(input: ModelInput): { logits: Float32Array; launches: LaunchTime[] } {
    const { logits, returned } = this.step(input, "profile");
    return { logits, launches: returned };
  }

  private step<M extends "forward" | "profile">(input: ModelInput, method: M): { logits: Float32Array; returned: ReturnType<NativeModel[M]> } {
    const logits = new Float32Array(input.logitsIndices.length * this.rowWidth);
    const returned = this.requireNative()[method](...this.stepArguments(input, logits), undefined, input.loraSlots ?? undefined) as ReturnType<NativeModel[M]>;
    return { logits, returned };
  }

  /** The native step's arguments, after the step's copy-on-write block copies are done. */
  private stepArguments(input: ModelInput, logits: Float32Array): StepArguments {
    const native = this.requireNative();
    if (input.blockCopies.length > 0) {
      const n = input.blockCopies.length / 2;
      native.copyBlocks(Int32Array.from({ length: n }, (_, i) => input.blockCopies[2 * i]), Int32Array.from({ length: n }, (_, i) => input.blockCopies[2 * i + 1]));
    }
    const seqIdx = new Int32Array(input.numTokens);
    for (let s = 0; s < input.numSeqs; s++) seqIdx.fill(s, input.queryStartLoc[s], input.queryStartLoc[s + 1]);
    return [input.inputIds, input.positions, input.slotMapping, seqIdx, input.blockTables, input.logitsIndices, logits, input.numSeqs, input.maxBlocksPerSeq];
  }
}

// Prepares the checkpoint's tensors for the compiled forward pass: gathers the tensors each fused
// parameter is made of (the architecture's weight map, beside its model file), takes the rest as
// they are (a tied LM head is the embedding, named so by the model), adds the RoPE frequency table,
// packs the dense matmuls' weights into panels (their kernel's layout, so no step repacks them),
// and stores each in the weight dtype the model was compiled for, in the order the forward expects.
import { loraSlotElements, type GptqPart, type QuantPanelPart, type WeightSpec } from "../../codegen/emit/forward-types.ts";
import { packQuantPanels, type QuantPanels } from "../../dsl/kernels/quant-panel-layout.ts";
import { commonQuantGroups, quantGroups } from "../loader/quant-groups.ts";
import { fp8InputScaleName, fp8ScaleName, widenFp8 } from "../loader/fp8.ts";
import { gptqTensors, widenGptq } from "../loader/gptq.ts";
import { packWeightPanelsInto, panelElements, panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import { f32ToBf16Bits, f32ToF16Bits, type Float } from "../../dsl/dtype.ts";
import type { WeightMap } from "../../models/common/weight-map.ts";
import { ropeTables, type RopeFrequencies } from "../../models/common/rope.ts";
import { architectureOf } from "../../models/registry.ts";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "../loader/convert.ts";
import type { LoadedModel, TensorMemory } from "../loader/types.ts";

type Storage = Float32Array | Uint16Array;
/** GGUF blocks or fp8 values as the file holds them (a packed weight, WeightSpec.packed). */
type Blocks = Uint8Array;

/**
 * A weight as the model object takes it: one tensor, or the pieces a fused weight is stacked from
 * by rows, which the model object copies into one buffer where its kernels read (so a CUDA load
 * never builds the stacked qkv and gate_up in host memory: 9 GB for Llama-3-8B).
 */
export type PreparedWeight = Storage | Storage[] | Blocks | Blocks[] | Int32Array;

/** Packs weights into the dense matmul's panels (packWeightPanels' contract). */
export interface PanelPacker {
  /** Zeroed storage like `like` for rows x columns as panels: cdiv(rows, 16) x columns x 16 elements. */
  allocate<A extends Storage>(like: A, rows: number, columns: number): A;
  /** w [rows, columns] into out's first cdiv(rows, 16) x columns x 16 elements. */
  pack<A extends Storage>(w: A, out: A, rows: number, columns: number): void;
}

/** The kernel file's JS packer into ordinary typed arrays. */
export const jsPanelPacker: PanelPacker = {
  allocate: (like, rows, columns) => new (like.constructor as new (length: number) => typeof like)(panelElements(rows, columns)),
  pack: packWeightPanelsInto,
};

/** The checkpoint tensor in the storage dtype: its own f32 values or f16/bf16 bits when it is stored
 *  so already (no round trip through f32 for a 16-bit checkpoint), converted otherwise. */
function storedTensor(model: LoadedModel, name: string, dtype: Float): Storage | undefined {
  const t = model.tensors.get(name);
  if (!t) {
    // A GPTQ linear that a kernel reads as stored (on the CPU plan, or with a bias) is widened.
    const widened = name.endsWith(".weight") ? widenGptq(model, name.slice(0, -".weight".length)) : undefined;
    return widened && toStorage(widened, dtype);
  }
  if (t.dtype === "fp8e4m3") return toStorage(widenFp8(model, t), dtype);
  return t.dtype === dtype ? (t.data as Storage) : toStorage(tensorToF32(t), dtype);
}

/** The checkpoint tensor names a fused parameter is stacked from (the architecture's weight map), in order; undefined if it is not fused. */
export function fusedPieceNames(name: string, weightMap: WeightMap): string[] | undefined {
  for (const [fused, parts] of Object.entries(weightMap)) {
    const marker = `.${fused}.`;
    if (name.includes(marker)) return parts.map((p) => name.replace(marker, `.${p}.`));
  }
  return undefined;
}

/** The checkpoint tensors a fused parameter is stacked from, in order; undefined if it is not fused or a piece is missing. */
function fusedPieces(model: LoadedModel, name: string, weightMap: WeightMap, dtype: Float): Storage[] | undefined {
  const pieces = fusedPieceNames(name, weightMap)?.map((p) => storedTensor(model, p, dtype));
  return pieces?.every((p): p is Storage => p !== undefined) ? pieces : undefined;
}

/**
 * One of a GPTQ linear's tensors, for a fused linear its pieces' side by side: they are laid out
 * [rows, outputs] (qweight, scales) or [rows, outputs / 8] (qzeros), so a fused linear's outputs
 * are column ranges. Scales come as f16, the kernel's.
 */
function gptqPart(model: LoadedModel, name: string, part: GptqPart, weightMap: WeightMap): Int32Array | Uint16Array | undefined {
  const base = (n: string) => n.slice(0, -".weight".length);
  const bases = gptqTensors(model, base(name)) ? [base(name)] : (fusedPieceNames(name, weightMap) ?? []).map(base);
  const tensors = bases.map((b) => model.tensors.get(`${b}.${part.slice("gptq.".length)}`));
  if (tensors.length === 0 || !tensors.every((t) => t !== undefined)) return undefined;
  const pieces = tensors.map((t) => (t!.dtype === "i32" ? (t!.data as Int32Array) : t!.dtype === "f16" ? (t!.data as Uint16Array) : toStorage(tensorToF32(t!), "f16") as Uint16Array));
  if (pieces.length === 1) return pieces[0];
  const rows = tensors[0]!.shape[0];
  const widths = tensors.map((t) => t!.shape[1]);
  const total = widths.reduce((a, w) => a + w, 0);
  const out = pieces[0] instanceof Int32Array ? new Int32Array(rows * total) : new Uint16Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let column = 0;
    pieces.forEach((p, i) => {
      out.set(p.subarray(r * widths[i], (r + 1) * widths[i]), r * total + column);
      column += widths[i];
    });
  }
  return out;
}

/** An fp8 weight's per-output or per-block scales (f32 since the loader), for a fused one its pieces' in order (rows of blocks stack like rows). */
function fp8Scales(model: LoadedModel, name: string, weightMap: WeightMap): Float32Array[] | undefined {
  const scales = (model.tensors.has(name) ? [name] : fusedPieceNames(name, weightMap) ?? []).map((n) => model.tensors.get(fp8ScaleName(n))?.data);
  return scales.length > 0 && scales.every((s): s is Float32Array => s instanceof Float32Array) ? scales : undefined;
}

/** A packed weight's GGUF blocks or fp8 values: its checkpoint tensor, or the pieces of a fused one (rows of blocks stack like rows of values). */
function packedBlocks(model: LoadedModel, name: string, weightMap: WeightMap): Blocks | Blocks[] | undefined {
  const pieces = (model.tensors.has(name) ? [name] : fusedPieceNames(name, weightMap) ?? []).map((n) => model.tensors.get(n));
  if (pieces.length === 0 || !pieces.every((t) => t !== undefined && t.dtype === model.config.packedWeights?.[t.name])) return undefined;
  const blocks = pieces.map((t) => t!.data as Blocks);
  return blocks.length === 1 ? blocks[0] : blocks;
}

/**
 * One part of a linear's quantized panels: its checkpoint tensor's GGUF blocks (or its pieces', in
 * one common grouping) packed as the model was compiled for. Formats without offsets get the one
 * zero row of them the kernel reads instead (MG = K).
 */
function quantPanelPart(model: LoadedModel, name: string, part: QuantPanelPart, quant: WeightSpec["quant"], weightMap: WeightMap, packedPanels: Map<string, QuantPanels>): PreparedWeight {
  if (!quant) throw new TsvllmError("TSVLLM_ERR_COMPILE", `weight "${name}": quantized panels without their format`, name);
  let panels = packedPanels.get(name);
  if (!panels) {
    const pieces = (model.tensors.has(name) ? [name] : fusedPieceNames(name, weightMap) ?? []).map((n) => model.tensors.get(n));
    const blocks = model.config.blockWeights ?? {};
    if (pieces.length === 0 || !pieces.every((t) => t !== undefined && blocks[t.name] === t.dtype)) {
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" (or the checkpoint tensors it is fused from) is not in GGUF blocks, as the model was compiled for`, name);
    }
    const groups = commonQuantGroups(pieces.map((t) => quantGroups(t!.dtype, t!.data as Uint8Array)), quant.columns);
    panels = packQuantPanels(groups, quant.rows, quant.columns);
    if (panels.bits !== quant.bits || panels.groupSize !== quant.groupSize || (panels.mins !== undefined) !== quant.hasMin) {
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" packs as ${panels.bits}-bit panels in groups of ${panels.groupSize}, not as the model was compiled for`, name);
    }
    packedPanels.set(name, panels);
  }
  if (part === "qpanels.scales") return panels.scales;
  if (part === "qpanels.mins") return panels.mins ?? new Float32Array(Math.ceil(quant.rows / panelWidth) * panelWidth);
  return new Uint8Array(panels.values.buffer, panels.values.byteOffset, panels.values.byteLength);
}

function stacked(pieces: Storage[], dtype: Float): Storage {
  const length = pieces.reduce((a, p) => a + p.length, 0);
  const out = dtype === "f32" ? new Float32Array(length) : new Uint16Array(length);
  let offset = 0;
  for (const p of pieces) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function toStorage(values: Float32Array, dtype: Float): Storage {
  if (dtype === "f32") return values;
  // A plain loop: TypedArray.from(source, map) collects into a JS array first, which V8 cannot
  // allocate for an embedding-sized tensor.
  const bits = dtype === "f16" ? f32ToF16Bits : f32ToBf16Bits;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bits(values[i]);
  return out;
}

/** What the native packer needs of the model addon. */
export interface PackingAddon extends HostMemoryAddon {
  packWeightPanels(src: Storage, dst: Storage, rows: number, columns: number): void;
}

/** Every addon's host memory (runtime/native/host_memory.cc). */
export interface HostMemoryAddon {
  /** Zero-filled memory on huge pages: decode streams every panel once a step. */
  allocateHostBuffer(bytes: number): ArrayBuffer;
  /** Part of a file, mapped copy-on-write. */
  mapFile(path: string, offset: number, bytes: number): ArrayBuffer;
}

/** Checkpoint tensors mapped from their files where they are aligned, else read into huge pages. */
export function nativeTensorMemory(addon: HostMemoryAddon): TensorMemory {
  return { allocate: (bytes) => addon.allocateHostBuffer(bytes), mapFile: (path, offset, bytes) => addon.mapFile(path, offset, bytes) };
}

/** The model addon's native packer (runtime/native/weight_packing.cc) into huge-page host buffers. */
export function nativePanelPacker(addon: PackingAddon): PanelPacker {
  return {
    allocate: (like, rows, columns) => new (like.constructor as new (buffer: ArrayBuffer) => typeof like)(addon.allocateHostBuffer(panelElements(rows, columns) * like.BYTES_PER_ELEMENT)),
    pack: (w, out, rows, columns) => addon.packWeightPanels(w, out.subarray(0, panelElements(rows, columns)), rows, columns),
  };
}

/** Packs the pieces of a weight (one, or those a fused one is stacked from by rows) into panels.
 *  When every piece but the last is whole panels (every model's q/k/v and gate/up) each is packed
 *  straight into its share of the output: stacking them first cost a fresh copy of qkv and gate_up
 *  (TinyLlama: 1.4 of 2.2 GB, about 4 s of first-touch page faults in a load). */
export function packFusedPanels(pieces: Storage[], dtype: Float, rows: number, columns: number, packer: PanelPacker): Storage {
  const pieceRows = pieces.map((p) => p.length / columns);
  const straight = pieceRows.every((r, i) => Number.isInteger(r) && (i === pieces.length - 1 || r % panelWidth === 0));
  if (!straight) {
    const whole = stacked(pieces, dtype);
    const out = packer.allocate(whole, rows, columns);
    packer.pack(whole, out, rows, columns);
    return out;
  }
  const out = packer.allocate(pieces[0], rows, columns);
  let row = 0;
  pieces.forEach((piece, i) => {
    packer.pack(piece, out.subarray(row * columns), pieceRows[i], columns);
    row += pieceRows[i];
  });
  return out;
}

function ropeTable(config: LoadedModel["config"], rotaryDim: number, key: string, maxModelLen: number | undefined): RopeFrequencies {
  const table = ropeTables(config, rotaryDim, maxModelLen)[key];
  if (!table) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${config.architecture}: the forward pass reads RoPE table "${key}", which this config does not define`, "rope");
  return table;
}

/**
 * The JS packer (the kernel file's reference) unless the caller has the native one. `maxModelLen`
 * (the engine's) picks LongRoPE's table; max_position_embeddings by default.
 */
export function prepareWeights(model: LoadedModel, specs: WeightSpec[], dtype: Float, rotaryDim: number, packer: PanelPacker = jsPanelPacker, maxModelLen?: number): PreparedWeight[] {
  const { weightMap } = architectureOf(model.config);
  // A linear's quantized panels, packed once for its three parts.
  const quantPanels = new Map<string, QuantPanels>();
  return specs.map(({ name, panels, packed, lora, quant }): PreparedWeight => {
    if (name.startsWith("rope.invFreq.")) return ropeTable(model.config, rotaryDim, name.slice("rope.invFreq.".length), maxModelLen).invFreq;
    if (lora) return lora.dtype === "f32" ? new Float32Array(lora.maxLoras * loraSlotElements(lora)) : new Uint16Array(lora.maxLoras * loraSlotElements(lora));
    if (packed?.startsWith("gptq.")) {
      const tensor = gptqPart(model, name, packed as GptqPart, weightMap);
      if (!tensor) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: linear "${name}" (or each linear it is fused from) has no GPTQ ${packed.slice("gptq.".length)} tensor, as the model was compiled for`, name);
      return tensor;
    }
    if (packed?.startsWith("qpanels.")) return quantPanelPart(model, name, packed as QuantPanelPart, quant, weightMap, quantPanels);
    if (packed === "fp8.scale") {
      const scales = fp8Scales(model, name, weightMap);
      if (!scales) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: fp8 weight "${name}" (or each weight it is fused from) has no ${fp8ScaleName(name)} beside it, as the model was compiled for`, name);
      return scales.length === 1 ? scales[0] : scales;
    }
    if (packed === "fp8.inputScale") {
      // Fused pieces share their input: vLLM takes the largest of their static scales.
      const scales = (model.tensors.has(name) ? [name] : fusedPieceNames(name, weightMap) ?? []).map((n) => model.tensors.get(fp8InputScaleName(n))?.data);
      if (scales.length === 0 || !scales.every((v) => v instanceof Float32Array)) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: fp8 weight "${name}" (or each weight it is fused from) has no ${fp8InputScaleName(name)} beside it, as the model was compiled for`, name);
      return Float32Array.of(Math.max(...scales.map((v) => (v as Float32Array)[0])));
    }
    if (packed) {
      const blocks = packedBlocks(model, name, weightMap);
      if (!blocks) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" (or the checkpoint tensors it is fused from) is not all ${packed} blocks, as the model was compiled for`, name);
      return blocks;
    }
    const stored = storedTensor(model, name, dtype);
    const pieces = stored ? [stored] : fusedPieces(model, name, weightMap, dtype);
    if (!pieces) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" (or the checkpoint tensors it is fused from) is missing`, name);
    if (!panels) return pieces.length === 1 ? pieces[0] : pieces;
    const length = pieces.reduce((a, p) => a + p.length, 0);
    if (length !== panels.rows * panels.columns) {
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" has ${length} values, the model expects ${panels.rows} x ${panels.columns}`, name);
    }
    return packFusedPanels(pieces, dtype, panels.rows, panels.columns, packer);
  });
}

// Lays a PEFT adapter's matrices out as one slot of a compiled model's LoRA tables (LoraTable,
// dsl/kernels/lora.ts), both transposed: a fused linear's A table [in, slices * R] holds each
// projection's A (q, k, v) in its own R columns, its B table [R, out] each output's projection's
// B in that output's column; ranks below R are zero-padded.
import { loraSlotElements, type LoraTable, type WeightSpec } from "../../codegen/emit/forward-types.ts";
import { f32ToBf16Bits, f32ToF16Bits } from "../../dsl/dtype.ts";
import type { WeightMap } from "../../models/common/weight-map.ts";
import { TsvllmError } from "../errors.ts";
import { fusedPieceNames } from "../model/weights.ts";
import type { LoraAdapter } from "./peft-adapter.ts";

/** One LoRA table of the compiled model: where it is among the weights, and the module each slice is. */
export interface LoraTarget {
  weightIndex: number;
  table: LoraTable;
  /** The base model's module of each slice, e.g. model.layers.0.self_attn.q_proj. */
  modules: string[];
}

const moduleOf = (weightName: string) => weightName.replace(/\.weight$/, "");

export function loraTargets(specs: readonly WeightSpec[], weightMap: WeightMap): LoraTarget[] {
  return specs.flatMap((spec, weightIndex) => {
    if (!spec.lora) return [];
    // One module per slice: the projections a fused weight is stacked from, else the weight's own.
    const pieces = fusedPieceNames(spec.name, weightMap);
    const modules = (pieces?.length === spec.lora.slices.length ? pieces : [spec.name]).map(moduleOf);
    return [{ weightIndex, table: spec.lora, modules }];
  });
}

/** Throws unless every module the adapter trains is a LoRA target of the model, with its shape. */
export function checkAdapterFits(adapter: LoraAdapter, targets: readonly LoraTarget[]): void {
  const shapes = new Map<string, { inFeatures: number; outFeatures: number }>();
  for (const { table, modules } of targets) modules.forEach((m, i) => shapes.set(m, { inFeatures: table.inFeatures, outFeatures: table.slices[i] }));
  const name = adapter.request.loraName;
  for (const [module, weights] of adapter.modules) {
    const shape = shapes.get(module);
    if (!shape) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter "${name}" trains ${module}, which is not a linear of the model's decoder layers (the modules LoRA can adapt)`, "target_modules");
    if (shape.inFeatures !== weights.inFeatures || shape.outFeatures !== weights.outFeatures) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter "${name}": ${module} maps ${weights.inFeatures} to ${weights.outFeatures} features, the model's ${shape.inFeatures} to ${shape.outFeatures}`, module);
    }
  }
}

/** The adapter's values for one slot of the table (zeros for modules it leaves alone, or for no adapter), in the table's dtype. */
export function packSlot(target: LoraTarget, adapter: LoraAdapter | null): Float32Array | Uint16Array {
  const values = slotValues(target, adapter);
  if (target.table.dtype === "f32") return values;
  const bits = target.table.dtype === "f16" ? f32ToF16Bits : f32ToBf16Bits;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bits(values[i]);
  return out;
}

function slotValues(target: LoraTarget, adapter: LoraAdapter | null): Float32Array {
  const { table, modules } = target;
  const out = new Float32Array(loraSlotElements(table));
  if (adapter === null) return out;
  const R = table.rank;
  let firstRow = 0;
  modules.forEach((module, p) => {
    const weights = adapter.modules.get(module);
    const rows = table.slices[p];
    if (weights) {
      const r = adapter.rank;
      if (table.part === "a") {
        const J = modules.length * R;
        for (let j = 0; j < r; j++) for (let k = 0; k < table.inFeatures; k++) out[k * J + p * R + j] = weights.a[j * table.inFeatures + k];
      } else {
        for (let n = 0; n < rows; n++) for (let j = 0; j < r; j++) out[j * table.outFeatures + firstRow + n] = weights.b[n * r + j];
      }
    }
    firstRow += rows;
  });
  return out;
}

// Prepares the checkpoint's tensors for the compiled forward pass: stacks the tensors each fused
// parameter is made of (the architecture's weight map, beside its model file), takes the rest as
// they are (a tied LM head is the embedding, named so by the model), adds the RoPE frequency table,
// packs the dense matmuls' weights into panels (their kernel's layout, so no step repacks them),
// and stores each in the weight dtype the model was compiled for, in the order the forward expects.
import type { WeightSpec } from "../../codegen/emit/forward.ts";
import { packWeightPanels, panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import { f32ToBf16Bits, f32ToF16Bits, type Float } from "../../dsl/dtype.ts";
import type { WeightMap } from "../../models/common/weight-map.ts";
import { ropeInvFreq } from "../../models/common/rope.ts";
import { architectureOf } from "../../models/registry.ts";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "../loader/convert.ts";
import type { LoadedModel } from "../loader/types.ts";

type Storage = Float32Array | Uint16Array;

/** Packs w [rows, columns] into the dense matmul's panels (packWeightPanels' contract). */
export type PanelPacker = <A extends Storage>(w: A, rows: number, columns: number) => A;

/** The checkpoint tensor in the storage dtype: its own f32 values or f16/bf16 bits when it is stored
 *  so already (no round trip through f32 for a 16-bit checkpoint), converted otherwise. */
function storedTensor(model: LoadedModel, name: string, dtype: Float): Storage | undefined {
  const t = model.tensors.get(name);
  if (!t) return undefined;
  return t.dtype === dtype ? (t.data as Storage) : toStorage(tensorToF32(t), dtype);
}

function stackedTensor(model: LoadedModel, name: string, weightMap: WeightMap, dtype: Float): Storage | undefined {
  for (const [fused, parts] of Object.entries(weightMap)) {
    const marker = `.${fused}.`;
    if (!name.includes(marker)) continue;
    const pieces = parts.map((p) => storedTensor(model, name.replace(marker, `.${p}.`), dtype));
    if (pieces.some((p) => !p)) return undefined;
    const length = pieces.reduce((a, p) => a + p!.length, 0);
    const out = dtype === "f32" ? new Float32Array(length) : new Uint16Array(length);
    let offset = 0;
    for (const p of pieces) {
      out.set(p!, offset);
      offset += p!.length;
    }
    return out;
  }
  return undefined;
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
export interface PackingAddon {
  packWeightPanels(src: Storage, dst: Storage, rows: number, columns: number): void;
  /** Zero-filled memory on huge pages (runtime/native/host_memory.cc): decode streams every panel once a step. */
  allocateHostBuffer(bytes: number): ArrayBuffer;
}

/** The model addon's native packer (runtime/native/weight_packing.cc) as a PanelPacker. */
export function nativePanelPacker(addon: PackingAddon): PanelPacker {
  return (w, rows, columns) => {
    const Storage = w.constructor as new (buffer: ArrayBuffer) => typeof w;
    const out = new Storage(addon.allocateHostBuffer(Math.ceil(rows / panelWidth) * columns * panelWidth * w.BYTES_PER_ELEMENT));
    addon.packWeightPanels(w, out, rows, columns);
    return out;
  };
}

/** The JS packer (the kernel file's reference) unless the caller has the native one. */
export function prepareWeights(model: LoadedModel, specs: WeightSpec[], dtype: Float, rotaryDim: number, packPanels: PanelPacker = packWeightPanels): Storage[] {
  const { weightMap } = architectureOf(model.config);
  return specs.map(({ name, panels }) => {
    if (name.startsWith("rope.invFreq.")) return ropeInvFreq(model.config, rotaryDim).invFreq;
    const values = storedTensor(model, name, dtype) ?? stackedTensor(model, name, weightMap, dtype);
    if (!values) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" (or the checkpoint tensors it is fused from) is missing`, name);
    if (!panels) return values;
    if (values.length !== panels.rows * panels.columns) {
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" has ${values.length} values, the model expects ${panels.rows} x ${panels.columns}`, name);
    }
    return packPanels(values, panels.rows, panels.columns);
  });
}

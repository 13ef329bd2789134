// Prepares the checkpoint's tensors for the compiled forward pass: stacks the tensors each fused
// parameter is made of (the architecture's weight map, beside its model file), takes the rest as
// they are (a tied LM head is the embedding, named so by the model), adds the RoPE frequency table,
// packs the dense matmuls' weights into panels (their kernel's layout, so no step repacks them),
// and stores each in the weight dtype the model was compiled for, in the order the forward expects.
import type { WeightSpec } from "../../codegen/emit/forward.ts";
import { packWeightPanels } from "../../dsl/kernels/matmul-blocked.ts";
import { f32ToBf16Bits, f32ToF16Bits, type Float } from "../../dsl/dtype.ts";
import type { WeightMap } from "../../models/common/weight-map.ts";
import { ropeInvFreq } from "../../models/common/rope.ts";
import { architectureOf } from "../../models/registry.ts";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "../loader/convert.ts";
import type { LoadedModel } from "../loader/types.ts";

function checkpointTensor(model: LoadedModel, name: string): Float32Array | undefined {
  const t = model.tensors.get(name);
  return t ? tensorToF32(t) : undefined;
}

function stackedTensor(model: LoadedModel, name: string, weightMap: WeightMap): Float32Array | undefined {
  for (const [fused, parts] of Object.entries(weightMap)) {
    const marker = `.${fused}.`;
    if (!name.includes(marker)) continue;
    const pieces = parts.map((p) => checkpointTensor(model, name.replace(marker, `.${p}.`)));
    if (pieces.some((p) => !p)) return undefined;
    const out = new Float32Array(pieces.reduce((a, p) => a + p!.length, 0));
    let offset = 0;
    for (const p of pieces) {
      out.set(p!, offset);
      offset += p!.length;
    }
    return out;
  }
  return undefined;
}

function toStorage(values: Float32Array, dtype: Float): Float32Array | Uint16Array {
  if (dtype === "f32") return values;
  // A plain loop: TypedArray.from(source, map) collects into a JS array first, which V8 cannot
  // allocate for an embedding-sized tensor.
  const bits = dtype === "f16" ? f32ToF16Bits : f32ToBf16Bits;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bits(values[i]);
  return out;
}

export function prepareWeights(model: LoadedModel, specs: WeightSpec[], dtype: Float, rotaryDim: number): (Float32Array | Uint16Array)[] {
  const { weightMap } = architectureOf(model.config);
  return specs.map(({ name, panels }) => {
    if (name.startsWith("rope.invFreq.")) return ropeInvFreq(model.config, rotaryDim).invFreq;
    const values = checkpointTensor(model, name) ?? stackedTensor(model, name, weightMap);
    if (!values) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" (or the checkpoint tensors it is fused from) is missing`, name);
    if (!panels) return toStorage(values, dtype);
    if (values.length !== panels.rows * panels.columns) {
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${model.source}: tensor "${name}" has ${values.length} values, the model expects ${panels.rows} x ${panels.columns}`, name);
    }
    return toStorage(packWeightPanels(values, panels.rows, panels.columns), dtype);
  });
}

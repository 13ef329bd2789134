// Per-layer fp8 KV cache scales from a checkpoint, as vLLM reads them: `<layer>.self_attn.k_scale`
// and `.v_scale` (llm-compressor's kv_cache_scheme), or the older `k_proj.output_scale` /
// `v_proj.output_scale` (AutoFP8), or one `self_attn.kv_scale` for both. With --kv-cache-dtype fp8
// the cache stores k / k_scale and v / v_scale, and attention multiplies them back
// (dsl/kernels/kv-write.ts, paged-attention.ts); other caches ignore them, as vLLM does.
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "./convert.ts";
import type { LoadedTensor, ModelConfig } from "./types.ts";

const candidates = (layer: number, which: "k" | "v") => {
  const attention = `model.layers.${layer}.self_attn`;
  return [`${attention}.${which}_scale`, `${attention}.${which}_proj.output_scale`, `${attention}.kv_scale`];
};

/** The scale a layer's keys or values take, or undefined when the checkpoint has none for it. */
function scaleOf(source: string, tensors: Map<string, LoadedTensor>, layer: number, which: "k" | "v"): number | undefined {
  const name = candidates(layer, which).find((n) => tensors.has(n));
  if (name === undefined) return undefined;
  const tensor = tensors.get(name)!;
  const values = ["f32", "f16", "bf16"].includes(tensor.dtype) ? tensorToF32(tensor) : undefined;
  if (!values || values.length !== 1 || !(Number.isFinite(values[0]) && values[0] > 0)) {
    throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${source}: tensor "${name}" should be one positive float (a KV cache scale), got ${tensor.dtype} [${tensor.shape}]`, name);
  }
  return values[0];
}

/** Sets config.kvCacheScales when the checkpoint holds KV cache scales: every layer must have both. */
export function readKvCacheScales(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  const layers = Array.from({ length: config.numHiddenLayers }, (_, layer) => ({ layer, k: scaleOf(source, tensors, layer, "k"), v: scaleOf(source, tensors, layer, "v") }));
  if (layers.every(({ k, v }) => k === undefined && v === undefined)) return;
  const missing = layers.find(({ k, v }) => k === undefined || v === undefined);
  if (missing) {
    const name = candidates(missing.layer, missing.k === undefined ? "k" : "v")[0];
    throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${source}: tensor "${name}" is missing: the checkpoint scales other layers' KV cache, so every layer needs its k and v scales`, name);
  }
  config.kvCacheScales = layers.map(({ k, v }) => ({ k: k!, v: v! }));
}

// Checkpoint KV cache scales (runtime/loader/kv-cache-scales.ts): vLLM's names for them, every
// layer needing both once any layer has one, and malformed ones named by file and tensor.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { readKvCacheScales } from "../../runtime/loader/kv-cache-scales.ts";
import type { LoadedTensor, ModelConfig } from "../../runtime/loader/types.ts";

const scalar = (name: string, value: number, shape: number[] = []): [string, LoadedTensor] => [name, { name, dtype: "f32", shape, data: Float32Array.of(value) }];
const read = (...tensors: [string, LoadedTensor][]) => {
  const config = { numHiddenLayers: 2 } as ModelConfig;
  readKvCacheScales("ckpt", config, new Map(tensors));
  return config.kvCacheScales;
};
const errorOf = (...tensors: [string, LoadedTensor][]) => {
  try {
    read(...tensors);
  } catch (e) {
    assert.instance(e, TsvllmError);
    return e as TsvllmError;
  }
  throw new Error("read");
};

test("self_attn.k_scale / v_scale, AutoFP8's k_proj / v_proj output_scale, and one kv_scale for both", () => {
  assert.is(read(scalar("model.layers.0.self_attn.q_proj.weight", 1, [1])), undefined, "no scales: nothing set");
  assert.equal(read(
    scalar("model.layers.0.self_attn.k_scale", 0.5), scalar("model.layers.0.self_attn.v_scale", 0.25),
    scalar("model.layers.1.self_attn.k_proj.output_scale", 2), scalar("model.layers.1.self_attn.v_proj.output_scale", 4, [1]),
  ), [{ k: 0.5, v: 0.25 }, { k: 2, v: 4 }]);
  assert.equal(read(scalar("model.layers.0.self_attn.kv_scale", 3), scalar("model.layers.1.self_attn.kv_scale", 5)), [{ k: 3, v: 3 }, { k: 5, v: 5 }]);
});

test("a layer without its scales, a scale that is not one positive float: errors naming file and tensor", () => {
  for (const [tensors, names, says] of [
    [[scalar("model.layers.0.self_attn.k_scale", 1), scalar("model.layers.0.self_attn.v_scale", 1)], "model.layers.1.self_attn.k_scale", /is missing: the checkpoint scales other layers' KV cache/],
    [[scalar("model.layers.0.self_attn.kv_scale", 1), scalar("model.layers.1.self_attn.k_scale", 1)], "model.layers.1.self_attn.v_scale", /is missing/],
    [[scalar("model.layers.0.self_attn.kv_scale", 0)], "model.layers.0.self_attn.kv_scale", /should be one positive float \(a KV cache scale\), got f32 \[\]/],
    [[["model.layers.0.self_attn.k_scale", { name: "model.layers.0.self_attn.k_scale", dtype: "f32", shape: [2], data: Float32Array.of(1, 1) }]], "model.layers.0.self_attn.k_scale", /got f32 \[2\]/],
  ] as const) {
    const e = errorOf(...(tensors as unknown as [string, LoadedTensor][]));
    assert.is(e.code, "TSVLLM_ERR_MODEL_FILE");
    assert.match(e.message, `ckpt: tensor "${names}"`);
    assert.match(e.message, says);
  }
});

test.run();

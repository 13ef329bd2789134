// Small synthetic GGUF files, one per architecture: llama.cpp names map to HF names, quantized
// tensors stay packed or are widened, and the converter's transforms (q/k permutation, Gemma's +1
// norms, duplicated output.weight) are undone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { loadGguf, unpermuteRows } from "../../runtime/loader/gguf.ts";
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K } from "../../runtime/loader/gguf-quants.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { f32Bytes, ggmlType, ggufBytes, type GgufMetadataValue, type GgufTensorSpec } from "../support/loader-gguf-writer.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const tempDir = useTempDir(test, "tsvllm-gguf-");
let fileCount = 0;

const hidden = 8;
const vocab = 4;

/** Metadata of a one-layer model: hidden 8, 2 heads of 4, 1 KV head, FFN 16. */
function hyperparameters(arch: string, extra: Record<string, GgufMetadataValue> = {}): Record<string, GgufMetadataValue> {
  return {
    "general.architecture": { type: "string", value: arch },
    [`${arch}.embedding_length`]: { type: "u32", value: hidden },
    [`${arch}.block_count`]: { type: "u32", value: 1 },
    [`${arch}.feed_forward_length`]: { type: "u32", value: 16 },
    [`${arch}.attention.head_count`]: { type: "u32", value: 2 },
    [`${arch}.attention.head_count_kv`]: { type: "u32", value: 1 },
    [`${arch}.context_length`]: { type: "u32", value: 64 },
    [`${arch}.attention.layer_norm_rms_epsilon`]: { type: "f32", value: 1e-6 },
    [`${arch}.rope.freq_base`]: { type: "f32", value: 10000 },
    ...extra,
  };
}

/** Values 0.25 * (seed + i) laid out as `dims` (ggml order). */
function f32Tensor(name: string, dims: number[], seed = 0): GgufTensorSpec {
  const count = dims.reduce((a, b) => a * b, 1);
  return { name, dims, ggmlType: ggmlType.f32, data: f32Bytes(Array.from({ length: count }, (_, i) => 0.25 * (seed + i))) };
}

async function load(metadata: Record<string, GgufMetadataValue>, tensors: GgufTensorSpec[]): Promise<LoadedModel> {
  const path = join(tempDir(), `model-${fileCount++}.gguf`);
  await writeFile(path, ggufBytes(metadata, tensors));
  return loadGguf(path);
}

async function loadError(metadata: Record<string, GgufMetadataValue>, tensors: GgufTensorSpec[]): Promise<TsvllmError> {
  try {
    await load(metadata, tensors);
  } catch (error) {
    assert.instance(error, TsvllmError);
    return error as TsvllmError;
  }
  throw new Error("expected the load to fail");
}

function values(model: LoadedModel, name: string): number[] {
  const tensor = model.tensors.get(name);
  assert.ok(tensor, `has ${name}`);
  return Array.from(tensorToF32(tensor!));
}

test("gemma2: four norms per layer, norms stored as 1 + w, tied embedding, soft-capping", async () => {
  const model = await load(hyperparameters("gemma2", {
    "gemma2.attention.key_length": { type: "u32", value: 4 },
    "gemma2.attention.sliding_window": { type: "u32", value: 16 },
    "gemma2.attn_logit_softcapping": { type: "f32", value: 50 },
    "gemma2.final_logit_softcapping": { type: "f32", value: 30 },
  }), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("output_norm.weight", [hidden], 4),
    f32Tensor("blk.0.attn_norm.weight", [hidden], 8),
    f32Tensor("blk.0.post_attention_norm.weight", [hidden], 12),
    f32Tensor("blk.0.ffn_norm.weight", [hidden], 16),
    f32Tensor("blk.0.post_ffw_norm.weight", [hidden], 20),
    f32Tensor("blk.0.attn_q.weight", [hidden, 8]),
  ]);
  assert.is(model.config.architecture, "Gemma2ForCausalLM");
  assert.is(model.config.hiddenAct, "gelu_pytorch_tanh");
  assert.ok(model.config.tieWordEmbeddings);
  assert.is(model.config.vocabSize, vocab);
  assert.is(model.config.slidingWindow, 16);
  assert.is(model.config.finalLogitSoftcapping, 30);
  assert.is(model.config.attnLogitSoftcapping, 50);
  assert.is(model.config.queryPreAttnScalar, 4);
  const norm = (seed: number): number[] => Array.from({ length: hidden }, (_, i) => 0.25 * (seed + i) - 1);
  assert.equal(values(model, "model.norm.weight"), norm(4));
  assert.equal(values(model, "model.layers.0.input_layernorm.weight"), norm(8));
  assert.equal(values(model, "model.layers.0.post_attention_layernorm.weight"), norm(12));
  assert.equal(values(model, "model.layers.0.pre_feedforward_layernorm.weight"), norm(16));
  assert.equal(values(model, "model.layers.0.post_feedforward_layernorm.weight"), norm(20));
  // Gemma uses rotate-half RoPE in llama.cpp too: q is not permuted.
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from({ length: 64 }, (_, i) => 0.25 * i));
});

test("gemma3: q/k norms stored as 1 + w too; sliding layers by llama.cpp's pattern and local base; no window, no sliding layers", async () => {
  const tensors = [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("output_norm.weight", [hidden], 4),
    f32Tensor("blk.0.attn_q_norm.weight", [4], 8),
    f32Tensor("blk.0.attn_k_norm.weight", [4], 12),
    f32Tensor("blk.0.ffn_norm.weight", [hidden], 16),
  ];
  const layers = (n: number) => ({ "gemma3.block_count": { type: "u32" as const, value: n }, "gemma3.attention.key_length": { type: "u32" as const, value: 4 } });
  const model = await load(hyperparameters("gemma3", { ...layers(7), "gemma3.attention.sliding_window": { type: "u32", value: 512 } }), tensors);
  assert.is(model.config.architecture, "Gemma3ForCausalLM");
  assert.is(model.config.slidingWindow, 512);
  assert.equal(model.config.layerTypes, [...Array(5).fill("sliding_attention"), "full_attention", "sliding_attention"]);
  assert.is(model.config.ropeLocalTheta, 10000);
  assert.is(model.config.finalLogitSoftcapping, null);
  assert.is(model.config.attnLogitSoftcapping, null);
  assert.is(model.config.queryPreAttnScalar, 4);
  const minusOne = (seed: number, size: number): number[] => Array.from({ length: size }, (_, i) => 0.25 * (seed + i) - 1);
  assert.equal(values(model, "model.layers.0.self_attn.q_norm.weight"), minusOne(8, 4));
  assert.equal(values(model, "model.layers.0.self_attn.k_norm.weight"), minusOne(12, 4));
  assert.equal(values(model, "model.layers.0.pre_feedforward_layernorm.weight"), minusOne(16, hidden));

  const stated = await load(hyperparameters("gemma3", {
    ...layers(4), "gemma3.attention.sliding_window": { type: "u32", value: 512 }, "gemma3.attention.sliding_window_pattern": { type: "u32", value: 2 },
    "gemma3.rope.freq_base_swa": { type: "f32", value: 20000 }, "gemma3.final_logit_softcapping": { type: "f32", value: 30 },
  }), tensors);
  assert.equal(stated.config.layerTypes, ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]);
  assert.is(stated.config.ropeLocalTheta, 20000);
  assert.is(stated.config.finalLogitSoftcapping, 30);

  const global = await load(hyperparameters("gemma3", layers(2)), tensors);
  assert.is(global.config.slidingWindow, null);
  assert.is(global.config.layerTypes, undefined);
  assert.is(global.config.ropeLocalTheta, undefined);
});

test("phi3: fused qkv and gate_up projections keep their names; a distinct output.weight is lm_head", async () => {
  const f16 = (name: string, dims: number[]): GgufTensorSpec => ({ name, dims, ggmlType: ggmlType.f16, data: new Uint8Array(dims[0] * dims[1] * 2).fill(0x3c) });
  const model = await load(hyperparameters("phi3"), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("output.weight", [hidden, vocab], 1),
    f16("blk.0.attn_qkv.weight", [hidden, 16]),
    f16("blk.0.ffn_up.weight", [hidden, 32]),
    f16("blk.0.ffn_down.weight", [16, hidden]),
  ]);
  assert.is(model.config.architecture, "Phi3ForCausalLM");
  assert.not.ok(model.config.tieWordEmbeddings);
  assert.is(model.config.torchDtype, "float16");
  assert.equal(model.tensors.get("model.layers.0.self_attn.qkv_proj.weight")!.shape, [16, hidden]);
  assert.equal(model.tensors.get("model.layers.0.mlp.gate_up_proj.weight")!.shape, [32, hidden]);
  assert.equal(model.tensors.get("model.layers.0.mlp.down_proj.weight")!.shape, [hidden, 16]);
  assert.is(model.tensors.get("model.layers.0.mlp.down_proj.weight")!.dtype, "f16");
  assert.ok(model.tensors.has("lm_head.weight"));
});

test("qwen2/qwen3: biases and q/k norms map, and nothing is permuted", async () => {
  const qwen2 = await load(hyperparameters("qwen2"), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("blk.0.attn_q.weight", [hidden, 8]),
    f32Tensor("blk.0.attn_q.bias", [8]),
  ]);
  assert.ok(qwen2.config.attentionBias);
  assert.equal(values(qwen2, "model.layers.0.self_attn.q_proj.bias"), Array.from({ length: 8 }, (_, i) => 0.25 * i));
  const qwen3 = await load(hyperparameters("qwen3", { "qwen3.attention.key_length": { type: "u32", value: 8 } }), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("blk.0.attn_q_norm.weight", [8]),
    f32Tensor("blk.0.attn_k_norm.weight", [8]),
  ]);
  assert.is(qwen3.config.headDim, 8);
  assert.not.ok(qwen3.config.attentionBias);
  assert.ok(qwen3.tensors.has("model.layers.0.self_attn.q_norm.weight") && qwen3.tensors.has("model.layers.0.self_attn.k_norm.weight"));
});

test("llama Q8_0/Q4_0 q/k stay packed; un-permuting whole rows of blocks equals un-permuting the values", async () => {
  const rowBlocks = (format: { bytes: number }, rows: number, cols: number): Uint8Array =>
    Uint8Array.from({ length: rows * (cols / 32) * format.bytes }, (_, i) => (i * 37 + 11) & 0x7f);
  const q = { name: "blk.0.attn_q.weight", dims: [64, 8], ggmlType: ggmlType.q8_0, data: rowBlocks({ bytes: 34 }, 8, 64) };
  const k = { name: "blk.0.attn_k.weight", dims: [64, 4], ggmlType: ggmlType.q4_0, data: rowBlocks({ bytes: 18 }, 4, 64) };
  const model = await load(hyperparameters("llama"), [f32Tensor("token_embd.weight", [hidden, vocab]), q, k]);
  const qTensor = model.tensors.get("model.layers.0.self_attn.q_proj.weight")!;
  const kTensor = model.tensors.get("model.layers.0.self_attn.k_proj.weight")!;
  assert.is(qTensor.dtype, "q8_0");
  assert.is(kTensor.dtype, "q4_0");
  assert.equal(qTensor.shape, [8, 64]);
  const raw = (spec: GgufTensorSpec, dtype: "q8_0" | "q4_0", rows: number) => tensorToF32({ name: spec.name, dtype, shape: [rows, 64], data: spec.data });
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from(unpermuteRows(raw(q, "q8_0", 8), 8, 2)));
  assert.equal(values(model, "model.layers.0.self_attn.k_proj.weight"), Array.from(unpermuteRows(raw(k, "q4_0", 4), 4, 1)));
  // Per head of 4 rows: GGUF rows [0, 1, 2, 3] are HF rows [0, 2, 1, 3].
  assert.equal(Array.from(unpermuteRows(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7), 8, 2)), [0, 2, 1, 3, 4, 6, 5, 7]);
});

test("granite: the *_scale keys are its multipliers (attention 1/sqrt(head_dim) when absent, as llama.cpp), q/k un-permuted as llama's", async () => {
  const q = f32Tensor("blk.0.attn_q.weight", [hidden, 8]);
  const scales = {
    "granite.embedding_scale": { type: "f32" as const, value: 12 },
    "granite.residual_scale": { type: "f32" as const, value: 0.25 },
    "granite.logit_scale": { type: "f32" as const, value: 8 },
  };
  const model = await load(hyperparameters("granite", { ...scales, "granite.attention.scale": { type: "f32", value: 0.0625 } }), [f32Tensor("token_embd.weight", [hidden, vocab]), q]);
  assert.is(model.config.architecture, "GraniteForCausalLM");
  assert.equal(model.config.graniteMultipliers, { embedding: 12, residual: 0.25, attention: 0.0625, logitsScaling: 8 });
  const raw = Float32Array.from({ length: 8 * hidden }, (_, i) => 0.25 * i);
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from(unpermuteRows(raw, 8, 2)));
  const unscaled = await load(hyperparameters("granite", scales), [f32Tensor("token_embd.weight", [hidden, vocab])]);
  assert.is(unscaled.config.graniteMultipliers?.attention, (hidden / 2) ** -0.5);
});

test("olmo2: post-norms and whole-projection q/k norms keep their HF names; with a sliding window it is OLMo 3, its layers by the per-layer flags", async () => {
  const tensors = [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("blk.0.attn_q_norm.weight", [hidden]),
    f32Tensor("blk.0.post_attention_norm.weight", [hidden]),
    f32Tensor("blk.0.post_ffw_norm.weight", [hidden]),
    f32Tensor("blk.0.attn_q.weight", [hidden, 8]),
  ];
  const model = await load(hyperparameters("olmo2"), tensors);
  assert.is(model.config.architecture, "Olmo2ForCausalLM");
  assert.is(model.config.slidingWindow, null);
  for (const name of ["self_attn.q_norm", "post_attention_layernorm", "post_feedforward_layernorm"]) assert.ok(model.tensors.has(`model.layers.0.${name}.weight`), name);
  // NeoX RoPE: q is not permuted.
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from({ length: 8 * hidden }, (_, i) => 0.25 * i));

  const olmo3 = (extra: Record<string, GgufMetadataValue>) =>
    hyperparameters("olmo2", { "olmo2.block_count": { type: "u32", value: 4 }, "olmo2.attention.sliding_window": { type: "u32", value: 4096 }, ...extra });
  const flagged = await load(olmo3({ "olmo2.attention.sliding_window_pattern": { type: "bools", value: [true, false, true, false] } }), tensors);
  assert.is(flagged.config.architecture, "Olmo3ForCausalLM");
  assert.is(flagged.config.slidingWindow, 4096);
  assert.equal(flagged.config.layerTypes, ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]);
  assert.is(flagged.config.ropeLocalTheta, 10000, "the sliding layers rotate by rope.freq_base, unscaled");
  assert.equal((await load(olmo3({}), tensors)).config.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]);
  const short = await loadError(olmo3({ "olmo2.attention.sliding_window_pattern": { type: "bools", value: [true] } }), tensors);
  assert.is(short.param, "olmo2.attention.sliding_window_pattern");
});

test("command-r and cohere2: LayerNorm epsilon and logit scale from their keys, tied head; cohere2 slides three layers of four", async () => {
  const tensors = [f32Tensor("token_embd.weight", [hidden, vocab]), f32Tensor("output_norm.weight", [hidden])];
  const cohereKeys = (arch: string) => {
    const { [`${arch}.attention.layer_norm_rms_epsilon`]: _, ...keys } = hyperparameters(arch, {
      [`${arch}.attention.layer_norm_epsilon`]: { type: "f32", value: 2e-5 },
      [`${arch}.logit_scale`]: { type: "f32", value: 0.125 },
    });
    return keys;
  };
  const commandR = await load(cohereKeys("command-r"), tensors);
  assert.is(commandR.config.architecture, "CohereForCausalLM");
  assert.is(commandR.config.rmsNormEps, 2e-5);
  assert.is(commandR.config.logitScale, 0.125);
  assert.is(commandR.config.tieWordEmbeddings, true);
  const cohere2 = await load({ ...cohereKeys("cohere2"), "cohere2.block_count": { type: "u32", value: 5 }, "cohere2.attention.sliding_window": { type: "u32", value: 512 } }, tensors);
  assert.is(cohere2.config.architecture, "Cohere2ForCausalLM");
  assert.is(cohere2.config.slidingWindow, 512);
  assert.equal(cohere2.config.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]);
  assert.is(cohere2.config.ropeLocalTheta, undefined);
});

test("exaone4: post-norms keep their HF names; its window and per-layer sliding flags are taken as written, with no local RoPE table", async () => {
  const tensors = [f32Tensor("token_embd.weight", [hidden, vocab]), f32Tensor("blk.0.post_attention_norm.weight", [hidden]), f32Tensor("blk.0.post_ffw_norm.weight", [hidden])];
  const plain = await load(hyperparameters("exaone4"), tensors);
  assert.is(plain.config.architecture, "Exaone4ForCausalLM");
  assert.is(plain.config.slidingWindow, null);
  assert.is(plain.config.layerTypes, undefined);
  for (const name of ["post_attention_layernorm.weight", "post_feedforward_layernorm.weight"]) assert.ok(plain.tensors.has(`model.layers.0.${name}`), name);
  const hybrid = await load(hyperparameters("exaone4", {
    "exaone4.block_count": { type: "u32", value: 4 },
    "exaone4.attention.sliding_window": { type: "u32", value: 4096 },
    "exaone4.attention.sliding_window_pattern": { type: "bools", value: [true, true, true, false] },
  }), tensors);
  assert.equal(hybrid.config.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]);
  assert.is(hybrid.config.slidingWindow, 4096);
  assert.is(hybrid.config.ropeLocalTheta, undefined);
});

test("qwen2vl (Qwen2-VL / Qwen2.5-VL's language model) loads as Qwen2, its M-RoPE sections read as plain RoPE for text", async () => {
  const model = await load(hyperparameters("qwen2vl", { "qwen2vl.rope.dimension_sections": { type: "i32s", value: [16, 24, 24, 0] } }), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("blk.0.attn_q.weight", [hidden, 8]),
    f32Tensor("blk.0.attn_q.bias", [8]),
  ]);
  assert.is(model.config.architecture, "Qwen2ForCausalLM");
  assert.is(model.config.attentionBias, true);
  assert.is(model.config.ropeScaling, null);
  // Qwen2 GGUFs are not permuted for RoPE: q stays as written.
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from({ length: 8 * hidden }, (_, i) => 0.25 * i));
});

test("glm4: ffn_norm is the MLP's input norm, the output norms have GLM's names, ffn_up is the fused gate_up_proj; q not permuted", async () => {
  const model = await load(hyperparameters("glm4"), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    f32Tensor("blk.0.post_attention_norm.weight", [hidden]),
    f32Tensor("blk.0.ffn_norm.weight", [hidden]),
    f32Tensor("blk.0.post_ffw_norm.weight", [hidden]),
    f32Tensor("blk.0.ffn_up.weight", [hidden, 32]),
    f32Tensor("blk.0.attn_q.weight", [hidden, 8]),
  ]);
  assert.is(model.config.architecture, "Glm4ForCausalLM");
  for (const name of ["post_self_attn_layernorm.weight", "post_attention_layernorm.weight", "post_mlp_layernorm.weight", "mlp.gate_up_proj.weight"]) {
    assert.ok(model.tensors.has(`model.layers.0.${name}`), name);
  }
  assert.equal(values(model, "model.layers.0.self_attn.q_proj.weight"), Array.from({ length: 8 * hidden }, (_, i) => 0.25 * i));
});

test("llama Q4_K, Q5_K and Q6_K tensors stay in their blocks until widened, and make the weights f16 (not 8x their size in f32)", async () => {
  const block = (bytes: number): Uint8Array => Uint8Array.from({ length: bytes }, (_, i) => (i * 13) & 0xff);
  const model = await load(hyperparameters("llama"), [
    f32Tensor("token_embd.weight", [hidden, vocab]),
    { name: "blk.0.ffn_down.weight", dims: [256, 1], ggmlType: ggmlType.q4_K, data: block(144) },
    { name: "blk.0.ffn_up.weight", dims: [256, 1], ggmlType: ggmlType.q6_K, data: block(210) },
    { name: "blk.0.ffn_gate.weight", dims: [256, 1], ggmlType: ggmlType.q5_K, data: block(176) },
  ]);
  const cases = [
    ["model.layers.0.mlp.down_proj.weight", "q4_K", 144, dequantizeQ4_K],
    ["model.layers.0.mlp.up_proj.weight", "q6_K", 210, dequantizeQ6_K],
    ["model.layers.0.mlp.gate_proj.weight", "q5_K", 176, dequantizeQ5_K],
  ] as const;
  for (const [name, dtype, bytes, dequantize] of cases) {
    const tensor = model.tensors.get(name)!;
    assert.is(tensor.dtype, dtype);
    assert.is(tensor.data.length, bytes, "the file's bytes, not widened values");
    assert.equal(tensor.shape, [1, 256]);
    assert.equal(tensorToF32(tensor), dequantize(block(bytes)));
  }
  assert.is(model.config.torchDtype, "float16");
  // No block kernel reads K-quants: the plans widen them, so they are not kept packed.
  assert.is(model.config.packedWeights, undefined);
});

test("llama-3 rope_freqs.weight becomes llama3 RoPE scaling; other divisors are refused", async () => {
  const headDim = 64;
  const theta = 500000;
  const divisors = Array.from({ length: headDim / 2 }, (_, j) => {
    const wavelength = 2 * Math.PI * theta ** ((2 * j) / headDim);
    if (wavelength < 8192 / 4) return 1;
    if (wavelength > 8192 / 1) return 8;
    const smooth = (8192 / wavelength - 1) / (4 - 1);
    return 1 / ((1 - smooth) / 8 + smooth);
  });
  const metadata = hyperparameters("llama", {
    "llama.embedding_length": { type: "u32", value: 128 },
    "llama.rope.freq_base": { type: "f32", value: theta },
  });
  const embedding = f32Tensor("token_embd.weight", [128, vocab]);
  const model = await load(metadata, [embedding, { name: "rope_freqs.weight", dims: [32], ggmlType: ggmlType.f32, data: f32Bytes(divisors) }]);
  assert.equal(model.config.ropeScaling, { ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.not.ok(model.tensors.has("rope_freqs.weight"));
  const odd = await loadError(metadata, [embedding, { name: "rope_freqs.weight", dims: [32], ggmlType: ggmlType.f32, data: f32Bytes(divisors.map((d, i) => d + i)) }]);
  assert.is(odd.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE");
});

test("granitemoe: Granite's multipliers, experts sized by feed_forward_length under GraniteMoE's router and stack names; a shared expert is refused by its key", async () => {
  const keys = {
    "granitemoe.expert_count": { type: "u32", value: 4 }, "granitemoe.expert_used_count": { type: "u32", value: 2 },
    "granitemoe.logit_scale": { type: "f32", value: 8 }, "granitemoe.residual_scale": { type: "f32", value: 0.25 },
  } as const;
  const tensors = [f32Tensor("token_embd.weight", [hidden, vocab]), f32Tensor("blk.0.ffn_gate_inp.weight", [hidden, 4]), f32Tensor("blk.0.ffn_up_exps.weight", [hidden, 16, 4])];
  const model = await load(hyperparameters("granitemoe", keys), tensors);
  assert.is(model.config.architecture, "GraniteMoeForCausalLM");
  assert.equal(model.config.moe, { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 16, normTopkProb: true });
  assert.is(model.config.graniteMultipliers?.logitsScaling, 8);
  assert.is(model.config.graniteMultipliers?.residual, 0.25);
  assert.ok(model.tensors.has("model.layers.0.block_sparse_moe.router.layer.weight"));
  assert.equal(model.tensors.get("model.layers.0.block_sparse_moe.experts.up.weight")!.shape, [4, 16, hidden]);
  const shared = await loadError(hyperparameters("granitemoe", { ...keys, "granitemoe.expert_shared_feed_forward_length": { type: "u32", value: 32 } }), tensors);
  assert.is(shared.param, "granitemoe.expert_shared_feed_forward_length");
});

test("MoE metadata: llama with experts is Mixtral, sized by feed_forward_length; qwen3moe by its own key; expert_weights_norm read when present", async () => {
  const embedding = f32Tensor("token_embd.weight", [hidden, vocab]);
  const experts = { "llama.expert_count": { type: "u32", value: 4 }, "llama.expert_used_count": { type: "u32", value: 2 } } as const;
  const mixtral = await load(hyperparameters("llama", experts), [embedding, f32Tensor("blk.0.ffn_gate_exps.weight", [hidden, 16, 4])]);
  assert.is(mixtral.config.architecture, "MixtralForCausalLM");
  assert.is(mixtral.config.modelType, "mixtral");
  assert.equal(mixtral.config.moe, { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 16, normTopkProb: true });
  const stack = mixtral.tensors.get("model.layers.0.block_sparse_moe.experts.w1.weight")!;
  assert.equal(stack.shape, [4, 16, hidden]);
  assert.equal(values(mixtral, stack.name), Array.from({ length: 4 * 16 * hidden }, (_, i) => 0.25 * i));
  assert.not.ok("moe" in (await load(hyperparameters("llama"), [embedding])).config);

  const qwen3moe = await load(hyperparameters("qwen3moe", {
    "qwen3moe.expert_count": { type: "u32", value: 8 },
    "qwen3moe.expert_used_count": { type: "u32", value: 2 },
    "qwen3moe.expert_feed_forward_length": { type: "u32", value: 32 },
    "qwen3moe.expert_weights_norm": { type: "bool", value: false },
  }), [embedding, f32Tensor("blk.0.ffn_down_exps.weight", [32, hidden, 8])]);
  assert.is(qwen3moe.config.architecture, "Qwen3MoeForCausalLM");
  assert.equal(qwen3moe.config.moe, { numExperts: 8, numExpertsPerTok: 2, intermediateSize: 32, normTopkProb: false });
  assert.equal(qwen3moe.tensors.get("model.layers.0.mlp.experts.down_proj.weight")!.shape, [8, hidden, 32]);

  const missing = await loadError(hyperparameters("qwen3moe", { "qwen3moe.expert_count": { type: "u32", value: 8 } }), [embedding]);
  assert.is(missing.param, "qwen3moe.expert_used_count");
});

test("qwen2moe: expert and shared-expert widths from their keys, else llama.cpp's fallbacks; the shared-expert gate loads as [1, hidden] from 2-D or squeezed files", async () => {
  const embedding = f32Tensor("token_embd.weight", [hidden, vocab]);
  const experts = { "qwen2moe.expert_count": { type: "u32", value: 4 }, "qwen2moe.expert_used_count": { type: "u32", value: 2 } } as const;
  const gateValues = Array.from({ length: hidden }, (_, i) => 0.25 * i);
  const model = await load(hyperparameters("qwen2moe", {
    ...experts,
    "qwen2moe.expert_feed_forward_length": { type: "u32", value: 32 },
    "qwen2moe.expert_shared_feed_forward_length": { type: "u32", value: 24 },
  }), [embedding, f32Tensor("blk.0.ffn_gate_inp_shexp.weight", [hidden, 1]), f32Tensor("blk.0.ffn_down_shexp.weight", [24, hidden])]);
  assert.is(model.config.architecture, "Qwen2MoeForCausalLM");
  assert.is(model.config.modelType, "qwen2_moe");
  assert.equal(model.config.moe, { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 32, normTopkProb: false, sharedExpertIntermediateSize: 24 });
  assert.equal(model.tensors.get("model.layers.0.mlp.shared_expert_gate.weight")!.shape, [1, hidden]);
  assert.equal(values(model, "model.layers.0.mlp.shared_expert_gate.weight"), gateValues);
  assert.equal(model.tensors.get("model.layers.0.mlp.shared_expert.down_proj.weight")!.shape, [hidden, 24]);

  // As converted before llama.cpp wrote the widths: experts FFN 16 / 2 used wide, the shared expert 16, the gate squeezed to ne [hidden].
  const older = await load(hyperparameters("qwen2moe", experts), [embedding, f32Tensor("blk.0.ffn_gate_inp_shexp.weight", [hidden])]);
  assert.equal(older.config.moe, { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 8, normTopkProb: false, sharedExpertIntermediateSize: 16 });
  assert.equal(older.tensors.get("model.layers.0.mlp.shared_expert_gate.weight")!.shape, [1, hidden]);
  assert.equal(values(older, "model.layers.0.mlp.shared_expert_gate.weight"), gateValues);
});

test("unsupported tensor types, odd block rows, unknown tensors and architectures are named", async () => {
  const iq2 = await loadError(hyperparameters("llama"), [{ name: "token_embd.weight", dims: [256, 1], ggmlType: ggmlType.iq2_xxs, data: new Uint8Array(66) }]);
  assert.is(iq2.code, "TSVLLM_ERR_MODEL_FILE");
  assert.match(iq2.message, 'tensor "token_embd.weight" has ggml type 16');
  const rows = await loadError(hyperparameters("llama"), [{ name: "token_embd.weight", dims: [48, 1], ggmlType: ggmlType.q8_0, data: new Uint8Array(68) }]);
  assert.match(rows.message, "row length 48 is not a multiple of the Q8_0 block size 32");
  const unknown = await loadError(hyperparameters("llama"), [f32Tensor("blk.0.mystery.weight", [4])]);
  assert.match(unknown.message, 'tensor "blk.0.mystery.weight" has no Hugging Face counterpart');
  const arch = await loadError(hyperparameters("bert"), [f32Tensor("token_embd.weight", [hidden, vocab])]);
  assert.is(arch.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE");
  assert.match(arch.message, 'general.architecture "bert" is not supported');
});

test.run();

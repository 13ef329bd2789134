// config.json parsing for each supported family, from small inline configs shaped like the hub's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { parseHfConfig, readHfConfig } from "../../runtime/loader/hf-config.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const file = "config.json";
const tempDir = useTempDir(test, "tsvllm-config-");
const base = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };

function errorOf(body: () => unknown): TsvllmError {
  try {
    body();
  } catch (error) {
    assert.instance(error, TsvllmError);
    return error as TsvllmError;
  }
  throw new Error("expected an error");
}

test("llama: defaults (kv heads = heads, head_dim = hidden/heads), llama3 rope scaling, eos list", () => {
  const config = parseHfConfig({
    ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", max_position_embeddings: 131072, rms_norm_eps: 1e-5,
    rope_theta: 500000, eos_token_id: [128001, 128008, 128009], bos_token_id: 128000, torch_dtype: "bfloat16",
    rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  }, file);
  assert.is(config.architecture, "LlamaForCausalLM");
  assert.is(config.numKeyValueHeads, 4);
  assert.is(config.headDim, 16);
  assert.is(config.ropeTheta, 500000);
  assert.equal(config.ropeScaling, { ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(config.eosTokenIds, [128001, 128008, 128009]);
  assert.is(config.bosTokenId, 128000);
  assert.is(config.torchDtype, "bfloat16");
  assert.is(config.hiddenAct, "silu");
  assert.not.ok(config.tieWordEmbeddings);
  assert.not.ok(config.attentionBias);
  assert.is(config.slidingWindow, null);
  assert.is(config.partialRotaryFactor, 1);
  assert.is(config.finalLogitSoftcapping, null);
});

test("llama: legacy rope_scaling 'type' and transformers >= 4.56 'dtype'", () => {
  const config = parseHfConfig({ ...base, model_type: "llama", rope_scaling: { type: "linear", factor: 2 }, dtype: "float16" }, file);
  assert.equal(config.ropeScaling, { ropeType: "linear", factor: 2 });
  assert.is(config.torchDtype, "float16");
  const dynamic = parseHfConfig({ ...base, model_type: "llama", max_position_embeddings: 4096, rope_scaling: { type: "dynamic", factor: 2 } }, file);
  assert.equal(dynamic.ropeScaling, { ropeType: "dynamic", factor: 2, originalMaxPositionEmbeddings: 4096 });
  assert.is(parseHfConfig({ ...base, model_type: "llama", rope_scaling: { rope_type: "default" } }, file).ropeScaling, null);
});

test("mistral: sliding_window kept, or null", () => {
  const config = parseHfConfig({ ...base, model_type: "mistral", num_key_value_heads: 2, sliding_window: 4096 }, file);
  assert.is(config.architecture, "MistralForCausalLM");
  assert.is(config.slidingWindow, 4096);
  assert.is(config.numKeyValueHeads, 2);
  assert.is(parseHfConfig({ ...base, model_type: "mistral", sliding_window: null }, file).slidingWindow, null);
  assert.is(parseHfConfig({ ...base, model_type: "mistral", sliding_window: 4096, use_sliding_window: false }, file).slidingWindow, null);
});

test("qwen2: q/k/v bias always; sliding window only with use_sliding_window; yarn", () => {
  const config = parseHfConfig({
    ...base, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", sliding_window: 32768, use_sliding_window: false,
    tie_word_embeddings: true, rope_theta: 1000000, rope_scaling: { type: "yarn", factor: 4, original_max_position_embeddings: 32768 },
  }, file);
  assert.ok(config.attentionBias);
  assert.is(config.slidingWindow, null);
  assert.ok(config.tieWordEmbeddings);
  assert.equal(config.ropeScaling, { ropeType: "yarn", factor: 4, originalMaxPositionEmbeddings: 32768, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: true });
  assert.is(parseHfConfig({ ...base, model_type: "qwen2", sliding_window: 4096, use_sliding_window: true }, file).slidingWindow, 4096);
  assert.is(parseHfConfig({ ...base, model_type: "qwen2", sliding_window: 4096 }, file).slidingWindow, null);
});

test("qwen3: explicit head_dim, no bias by default", () => {
  const config = parseHfConfig({ ...base, model_type: "qwen3", head_dim: 32, num_key_value_heads: 2, attention_bias: false }, file);
  assert.is(config.architecture, "Qwen3ForCausalLM");
  assert.is(config.headDim, 32);
  assert.not.ok(config.attentionBias);
});

test("mixtral: experts from num_local_experts and num_experts_per_tok, as wide as intermediate_size, always renormalized; dense models have no moe", () => {
  const config = parseHfConfig({ ...base, model_type: "mixtral", num_local_experts: 8, num_experts_per_tok: 2, sliding_window: null, router_aux_loss_coef: 0.02 }, file);
  assert.is(config.architecture, "MixtralForCausalLM");
  assert.is(config.rmsNormEps, 1e-5);
  assert.is(config.maxPositionEmbeddings, 131072);
  assert.is(config.slidingWindow, null);
  assert.equal(config.moe, { numExperts: 8, numExpertsPerTok: 2, intermediateSize: 128, normTopkProb: true });
  assert.equal(parseHfConfig({ ...base, model_type: "mixtral" }, file).moe, { numExperts: 8, numExpertsPerTok: 2, intermediateSize: 128, normTopkProb: true });
  assert.not.ok("moe" in parseHfConfig({ ...base, model_type: "mistral" }, file));
});

test("qwen3_moe: num_experts, moe_intermediate_size and norm_topk_prob, with Qwen3MoeConfig's defaults", () => {
  const config = parseHfConfig({
    ...base, model_type: "qwen3_moe", head_dim: 32, num_experts: 128, num_experts_per_tok: 8, moe_intermediate_size: 768,
    norm_topk_prob: true, decoder_sparse_step: 1, mlp_only_layers: [], use_sliding_window: false, sliding_window: null,
  }, file);
  assert.is(config.architecture, "Qwen3MoeForCausalLM");
  assert.is(config.headDim, 32);
  assert.is(config.intermediateSize, 128);
  assert.is(config.slidingWindow, null);
  assert.equal(config.moe, { numExperts: 128, numExpertsPerTok: 8, intermediateSize: 768, normTopkProb: true });
  assert.equal(parseHfConfig({ ...base, model_type: "qwen3_moe" }, file).moe, { numExperts: 128, numExpertsPerTok: 8, intermediateSize: 768, normTopkProb: false });
});

test("qwen2_moe: Qwen2's q/k/v biases (off with qkv_bias false), routed experts and a shared expert, with Qwen2MoeConfig's defaults", () => {
  const config = parseHfConfig({
    ...base, model_type: "qwen2_moe", num_experts: 60, num_experts_per_tok: 4, moe_intermediate_size: 1408, shared_expert_intermediate_size: 5632,
    norm_topk_prob: false, decoder_sparse_step: 1, mlp_only_layers: [], use_sliding_window: false, sliding_window: 4096, router_aux_loss_coef: 0.001,
  }, file);
  assert.is(config.architecture, "Qwen2MoeForCausalLM");
  assert.ok(config.attentionBias);
  assert.not.ok(config.tieWordEmbeddings);
  assert.is(config.slidingWindow, null);
  assert.is(config.intermediateSize, 128);
  assert.equal(config.moe, { numExperts: 60, numExpertsPerTok: 4, intermediateSize: 1408, normTopkProb: false, sharedExpertIntermediateSize: 5632 });
  const defaults = parseHfConfig({ ...base, model_type: "qwen2_moe" }, file);
  assert.equal(defaults.moe, { numExperts: 60, numExpertsPerTok: 4, intermediateSize: 1408, normTopkProb: false, sharedExpertIntermediateSize: 5632 });
  assert.ok(defaults.attentionBias);
  assert.not.ok(parseHfConfig({ ...base, model_type: "qwen2_moe", qkv_bias: false }, file).attentionBias);
  assert.is(parseHfConfig({ ...base, model_type: "qwen2_moe", norm_topk_prob: true }, file).moe!.normTopkProb, true);
  assert.not.ok("sharedExpertIntermediateSize" in parseHfConfig({ ...base, model_type: "qwen2_moe", shared_expert_intermediate_size: 0 }, file).moe!);
  assert.is(errorOf(() => parseHfConfig({ ...base, model_type: "qwen2_moe", shared_expert_intermediate_size: -1 }, file)).code, "TSVLLM_ERR_MODEL_FILE");
});

test("MoE layouts the engine does not run are refused naming their field: dense layers among sparse ones, shared experts", () => {
  const refusals: [Record<string, unknown>, string][] = [
    [{ model_type: "qwen3_moe", decoder_sparse_step: 2 }, "decoder_sparse_step"],
    [{ model_type: "qwen3_moe", mlp_only_layers: [0, 3] }, "mlp_only_layers"],
    [{ model_type: "qwen3_moe", shared_expert_intermediate_size: 5632 }, "shared_expert_intermediate_size"],
    [{ model_type: "mixtral", shared_expert_intermediate_size: 1024 }, "shared_expert_intermediate_size"],
    [{ model_type: "qwen2_moe", n_shared_experts: 2 }, "n_shared_experts"],
    [{ model_type: "qwen2_moe", num_shared_experts: 1 }, "num_shared_experts"],
    [{ model_type: "qwen2_moe", decoder_sparse_step: 2 }, "decoder_sparse_step"],
    [{ model_type: "qwen2_moe", mlp_only_layers: [1] }, "mlp_only_layers"],
  ];
  for (const [fields, key] of refusals) {
    const error = errorOf(() => parseHfConfig({ ...base, ...fields }, file));
    assert.is(error.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", key);
    assert.is(error.param, key);
    assert.match(error.message, key);
  }
  assert.ok(parseHfConfig({ ...base, model_type: "qwen3_moe", shared_expert_intermediate_size: 0 }, file).moe);
  assert.is(errorOf(() => parseHfConfig({ ...base, model_type: "qwen3_moe", mlp_only_layers: "none" }, file)).code, "TSVLLM_ERR_MODEL_FILE");
});

test("phi3: rms eps default 1e-5, partial rotary factor; an unknown rope scaling type is refused by name", () => {
  const config = parseHfConfig({ ...base, model_type: "phi3", sliding_window: 2047, partial_rotary_factor: 0.75 }, file);
  assert.is(config.architecture, "Phi3ForCausalLM");
  assert.is(config.rmsNormEps, 1e-5);
  assert.is(config.slidingWindow, 2047);
  assert.is(config.partialRotaryFactor, 0.75);
  const error = errorOf(() => parseHfConfig({ ...base, model_type: "phi3", rope_scaling: { type: "mrope" } }, file));
  assert.is(error.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE");
  assert.match(error.message, 'rope scaling type "mrope"');
});

test("gemma: hidden_activation wins; hidden_act 'gelu' alone means the tanh approximation; tied", () => {
  const gemma = { ...base, model_type: "gemma", head_dim: 256, hidden_act: "gelu" };
  assert.is(parseHfConfig(gemma, file).hiddenAct, "gelu_pytorch_tanh");
  assert.is(parseHfConfig({ ...gemma, hidden_activation: "gelu" }, file).hiddenAct, "gelu");
  assert.ok(parseHfConfig(gemma, file).tieWordEmbeddings);
  assert.is(parseHfConfig(gemma, file).headDim, 256);
  assert.is(parseHfConfig(gemma, file).finalLogitSoftcapping, null);
});

test("gemma2: soft-capping, query_pre_attn_scalar, sliding window; null turns capping off", () => {
  const config = parseHfConfig({
    ...base, model_type: "gemma2", hidden_activation: "gelu_pytorch_tanh", final_logit_softcapping: 30, attn_logit_softcapping: 50,
    query_pre_attn_scalar: 224, sliding_window: 4096,
  }, file);
  assert.is(config.architecture, "Gemma2ForCausalLM");
  assert.is(config.finalLogitSoftcapping, 30);
  assert.is(config.attnLogitSoftcapping, 50);
  assert.is(config.queryPreAttnScalar, 224);
  assert.is(config.slidingWindow, 4096);
  const uncapped = parseHfConfig({ ...base, model_type: "gemma2", final_logit_softcapping: null, attn_logit_softcapping: null }, file);
  assert.is(uncapped.finalLogitSoftcapping, null);
  assert.is(uncapped.attnLogitSoftcapping, null);
  assert.is(uncapped.queryPreAttnScalar, 256);
});

test("gemma3_text: every sixth layer global by default, layer_types win, local RoPE base, no soft caps", () => {
  const gemma3 = { ...base, model_type: "gemma3_text", num_hidden_layers: 8, head_dim: 32 };
  const defaults = parseHfConfig(gemma3, file);
  assert.is(defaults.architecture, "Gemma3ForCausalLM");
  assert.equal(defaults.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention"]);
  assert.is(defaults.ropeTheta, 1e6);
  assert.is(defaults.ropeLocalTheta, 10000);
  assert.is(defaults.slidingWindow, 4096);
  assert.is(defaults.queryPreAttnScalar, 256);
  assert.is(defaults.finalLogitSoftcapping, null);
  assert.is(defaults.attnLogitSoftcapping, null);
  assert.is(defaults.hiddenAct, "gelu_pytorch_tanh");
  assert.ok(defaults.tieWordEmbeddings);

  const stated = parseHfConfig({
    ...gemma3, sliding_window: 512, sliding_window_pattern: 2, rope_local_base_freq: 20000, rope_scaling: { rope_type: "linear", factor: 8 },
  }, file);
  assert.equal(stated.layerTypes, ["sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention"]);
  assert.is(stated.ropeLocalTheta, 20000);
  assert.equal(stated.ropeScaling, { ropeType: "linear", factor: 8 });
  const listed = ["full_attention", "sliding_attention", "full_attention", "full_attention", "sliding_attention", "full_attention", "full_attention", "full_attention"];
  assert.equal(parseHfConfig({ ...gemma3, sliding_window_pattern: 2, layer_types: listed }, file).layerTypes, listed);

  // transformers v5 nests the RoPE parameters by layer type.
  const v5 = parseHfConfig({
    ...gemma3,
    rope_parameters: { full_attention: { rope_type: "linear", factor: 8, rope_theta: 500000 }, sliding_attention: { rope_type: "default", rope_theta: 15000 } },
  }, file);
  assert.is(v5.ropeTheta, 500000);
  assert.equal(v5.ropeScaling, { ropeType: "linear", factor: 8 });
  assert.is(v5.ropeLocalTheta, 15000);

  const short = errorOf(() => parseHfConfig({ ...gemma3, layer_types: ["full_attention"] }, file));
  assert.is(short.param, "layer_types");
  assert.match(short.message, "1 entries for 8 layers");
  const unknown = errorOf(() => parseHfConfig({ ...gemma3, layer_types: Array(8).fill("chunked_attention") }, file));
  assert.is(unknown.param, "layer_types");
});

test("granite: the four multipliers, each 1 when absent as in GraniteConfig", () => {
  const config = parseHfConfig({ ...base, model_type: "granite", embedding_multiplier: 12, residual_multiplier: 0.22, attention_multiplier: 0.015625, logits_scaling: 8 }, file);
  assert.is(config.architecture, "GraniteForCausalLM");
  assert.equal(config.graniteMultipliers, { embedding: 12, residual: 0.22, attention: 0.015625, logitsScaling: 8 });
  assert.equal(parseHfConfig({ ...base, model_type: "granite" }, file).graniteMultipliers, { embedding: 1, residual: 1, attention: 1, logitsScaling: 1 });
  assert.is(parseHfConfig({ ...base, model_type: "llama" }, file).graniteMultipliers, undefined);
});

test("phi3 longrope (and its first name su): factors, the original context from the top level, attention factor from the context's growth unless given", () => {
  const phi = { ...base, model_type: "phi3", max_position_embeddings: 131072, original_max_position_embeddings: 4096, partial_rotary_factor: 0.75 };
  const factors = { short_factor: [1, 1.5], long_factor: [2, 3] };
  for (const type of ["longrope", "su"]) {
    const config = parseHfConfig({ ...phi, rope_scaling: { type, ...factors } }, file);
    assert.equal(config.ropeScaling, { ropeType: "longrope", shortFactor: [1, 1.5], longFactor: [2, 3], originalMaxPositionEmbeddings: 4096, attentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)) });
  }
  const given = parseHfConfig({ ...phi, rope_scaling: { rope_type: "longrope", attention_factor: 1.5, ...factors } }, file).ropeScaling;
  assert.is(given?.ropeType === "longrope" && given.attentionFactor, 1.5);
  const missing = errorOf(() => parseHfConfig({ ...phi, rope_scaling: { rope_type: "longrope", short_factor: [1, 1] } }, file));
  assert.is(missing.param, "long_factor");
});

test("olmo3: every fourth layer global by default; the sliding layers rotate by rope_theta unscaled", () => {
  const config = parseHfConfig({ ...base, model_type: "olmo3", num_hidden_layers: 5, rope_theta: 500000, rope_scaling: { rope_type: "yarn", factor: 8, original_max_position_embeddings: 8192 } }, file);
  assert.is(config.architecture, "Olmo3ForCausalLM");
  assert.equal(config.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]);
  assert.is(config.slidingWindow, 4096);
  assert.is(config.ropeLocalTheta, 500000);
  assert.is(config.ropeScaling?.ropeType, "yarn");
});

test("smollm3: NoPE layers from no_rope_layers, else every no_rope_layer_interval-th (4) layer", () => {
  const smol = { ...base, model_type: "smollm3", num_hidden_layers: 5 };
  const defaults = parseHfConfig(smol, file);
  assert.is(defaults.architecture, "SmolLM3ForCausalLM");
  assert.equal(defaults.ropeLayers, [true, true, true, false, true]);
  assert.is(defaults.ropeTheta, 2000000);
  assert.equal(parseHfConfig({ ...smol, no_rope_layer_interval: 2 }, file).ropeLayers, [true, false, true, false, true]);
  assert.equal(parseHfConfig({ ...smol, no_rope_layers: [0, 1, 1, 1, 0] }, file).ropeLayers, [false, true, true, true, false]);
  assert.is(errorOf(() => parseHfConfig({ ...smol, no_rope_layers: [1, 1] }, file)).param, "no_rope_layers");
  assert.is(parseHfConfig({ ...base, model_type: "llama" }, file).ropeLayers, undefined);
});

test("glm4: q/k/v biases and half-head rotary by default, as Glm4Config", () => {
  const config = parseHfConfig({ ...base, model_type: "glm4", head_dim: 16 }, file);
  assert.is(config.architecture, "Glm4ForCausalLM");
  assert.is(config.attentionBias, true);
  assert.is(config.partialRotaryFactor, 0.5);
  assert.is(config.rmsNormEps, 1.5625e-7);
  assert.is(parseHfConfig({ ...base, model_type: "glm4", attention_bias: false, partial_rotary_factor: 1 }, file).partialRotaryFactor, 1);
});

test("cohere: layer_norm_eps and logit_scale with CohereConfig's defaults; use_qk_norm (Command R+) refused by name", () => {
  const cohere = { ...base, model_type: "cohere", layer_norm_eps: 2e-5 };
  const config = parseHfConfig(cohere, file);
  assert.is(config.architecture, "CohereForCausalLM");
  assert.is(config.rmsNormEps, 2e-5);
  assert.is(config.logitScale, 0.0625);
  assert.is(config.tieWordEmbeddings, true);
  assert.is(parseHfConfig({ ...cohere, logit_scale: 0.125 }, file).logitScale, 0.125);
  const qkNorm = errorOf(() => parseHfConfig({ ...cohere, use_qk_norm: true }, file));
  assert.is(qkNorm.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE");
  assert.is(qkNorm.param, "use_qk_norm");
});

test("cohere2: three sliding layers to each global one by default, and no local RoPE table (the global layers have none)", () => {
  const config = parseHfConfig({ ...base, model_type: "cohere2", num_hidden_layers: 5 }, file);
  assert.is(config.architecture, "Cohere2ForCausalLM");
  assert.equal(config.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]);
  assert.is(config.slidingWindow, 4096);
  assert.is(config.ropeLocalTheta, undefined);
  assert.is(config.logitScale, 0.0625);
});

test("exaone4: three sliding layers of four by default, by an L/G string pattern, or none when sliding_window is null; no local RoPE table", () => {
  const exaone = { ...base, model_type: "exaone4", num_hidden_layers: 4 };
  const byDefault = parseHfConfig(exaone, file);
  assert.is(byDefault.architecture, "Exaone4ForCausalLM");
  assert.equal(byDefault.layerTypes, ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]);
  assert.is(byDefault.slidingWindow, 4096);
  assert.is(byDefault.ropeLocalTheta, undefined);
  assert.equal(parseHfConfig({ ...exaone, sliding_window_pattern: "LG" }, file).layerTypes, ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]);
  const windowless = parseHfConfig({ ...exaone, sliding_window: null }, file);
  assert.is(windowless.slidingWindow, null);
  assert.equal(windowless.layerTypes, Array(4).fill("full_attention"));
  const bad = errorOf(() => parseHfConfig({ ...exaone, sliding_window_pattern: "LLX" }, file));
  assert.is(bad.param, "sliding_window_pattern");
});

test("ernie4_5: tied embeddings and rope_theta 500000 by default; use_bias switches the attention biases", () => {
  const config = parseHfConfig({ ...base, model_type: "ernie4_5" }, file);
  assert.is(config.architecture, "Ernie4_5ForCausalLM");
  assert.is(config.tieWordEmbeddings, true);
  assert.is(config.ropeTheta, 500000);
  assert.is(config.attentionBias, false);
  assert.is(parseHfConfig({ ...base, model_type: "ernie4_5", use_bias: true }, file).attentionBias, true);
});

test("unsupported model_type, wrong field types and missing fields name the file and field", () => {
  const unsupported = errorOf(() => parseHfConfig({ ...base, model_type: "gpt2" }, file));
  assert.is(unsupported.code, "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE");
  const wrongType = errorOf(() => parseHfConfig({ ...base, model_type: "llama", hidden_size: "64" }, file));
  assert.is(wrongType.code, "TSVLLM_ERR_MODEL_FILE");
  assert.is(wrongType.message, 'config.json: field "hidden_size" should be a number, found "64"');
  assert.is(wrongType.param, "hidden_size");
  const missing = errorOf(() => parseHfConfig({ model_type: "llama" }, file));
  assert.is(missing.message, 'config.json: missing field "hidden_size"');
  const dtype = errorOf(() => parseHfConfig({ ...base, model_type: "llama", torch_dtype: "int8" }, file));
  assert.match(dtype.message, 'field "torch_dtype" is "int8"');
});

test("fp8 activation schemes: quant_method fp8 defaults to dynamic as vLLM's Fp8Config; compressed-tensors' input_activations say dynamic, static or none", () => {
  const llama = { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama" };
  const fp8 = (quantization: Record<string, unknown>) => parseHfConfig({ ...llama, quantization_config: quantization }, file).fp8;
  const floatGroup = (inputActivations?: Record<string, unknown>) => ({ weights: { num_bits: 8, type: "float", strategy: "channel" }, ...(inputActivations ? { input_activations: inputActivations } : {}) });
  const compressed = (...groups: ReturnType<typeof floatGroup>[]) => ({ quant_method: "compressed-tensors", format: "float-quantized", config_groups: Object.fromEntries(groups.map((g, i) => [`group_${i}`, g])) });
  assert.equal(fp8({ quant_method: "fp8" }), { quantMethod: "fp8", activationScheme: "dynamic" });
  assert.equal(fp8({ quant_method: "fp8", activation_scheme: "static" }), { quantMethod: "fp8", activationScheme: "static" });
  assert.equal(fp8(compressed(floatGroup({ num_bits: 8, type: "float", strategy: "token", dynamic: true }))), { quantMethod: "compressed-tensors", activationScheme: "dynamic" });
  assert.equal(fp8(compressed(floatGroup({ num_bits: 8, type: "float", strategy: "tensor", dynamic: false }))), { quantMethod: "compressed-tensors", activationScheme: "static" });
  assert.equal(fp8(compressed(floatGroup())), { quantMethod: "compressed-tensors", activationScheme: "none" });
  for (const [quantization, says] of [
    [{ quant_method: "fp8", activation_scheme: "per-layer" }, /fp8 activation_scheme "per-layer" is not supported/],
    [compressed(floatGroup({ dynamic: true }), floatGroup()), /groups that quantize their input activations differently are not supported/],
  ] as const) {
    const e = errorOf(() => fp8(quantization));
    assert.is(e.code, "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION");
    assert.match(e.message, file);
    assert.match(e.message, says);
  }
});

test("generation_config.json overrides stop ids and carries sampling defaults", async () => {
  const dir = tempDir();
  await writeFile(join(dir, "config.json"), JSON.stringify({ ...base, model_type: "llama", eos_token_id: 2, bos_token_id: 1 }));
  await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [2, 7], temperature: 0.6, top_p: 0.9 }));
  const { config, generationConfig } = await readHfConfig(dir);
  assert.equal(config.eosTokenIds, [2]);
  assert.equal(generationConfig, { bosTokenId: 1, eosTokenIds: [2, 7], temperature: 0.6, topP: 0.9 });
});

test.run();

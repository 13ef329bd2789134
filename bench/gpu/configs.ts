// The Hugging Face configs the GPU check builds random-weight checkpoints from (with transformers,
// on the GPU machine) and compiles tsvllm's CUDA models for (here, ahead of the run).
import { archNames, randomModelConfig } from "../../models/random/write-random-model.ts";

interface GpuModel {
  dtype: "f32" | "bf16";
  config: Record<string, unknown>;
}

/**
 * Every supported family at the random-model tool's tiny test shape, in f32: logits parity with
 * transformers per architecture (the same shapes the CPU suite compares with llama.cpp).
 */
export const tinyModels: Record<string, GpuModel> = Object.fromEntries(
  archNames.map((arch) => [`tiny-${arch}`, { dtype: "f32", config: { ...randomModelConfig(arch, "tiny", "f32") } }]),
);

export const gpuModels: Record<string, GpuModel> = {
  ...tinyModels,
  /** Llama-3-8B's shape in bf16: the throughput and roofline model. */
  "llama3-8b": {
    dtype: "bf16",
    config: {
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
      num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256, max_position_embeddings: 8192,
      rms_norm_eps: 1e-5, rope_theta: 500000, hidden_act: "silu", tie_word_embeddings: false, attention_bias: false,
      bos_token_id: 128000, eos_token_id: 128001, torch_dtype: "bfloat16",
    },
  },
};

// The Hugging Face configs the GPU check builds random-weight checkpoints from (with transformers,
// on the GPU machine) and compiles tsvllm's CUDA models for (here, ahead of the run).
export const gpuModels = {
  /** A tiny LLaMA in f32: exact parity with transformers. */
  "tiny-llama": {
    dtype: "f32" as const,
    config: {
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
      num_attention_heads: 8, num_key_value_heads: 2, head_dim: 32, vocab_size: 1024, max_position_embeddings: 1024,
      rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: "silu", tie_word_embeddings: false, attention_bias: false,
      bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32",
    },
  },
  /** Llama-3-8B's shape in bf16: the throughput and roofline model. */
  "llama3-8b": {
    dtype: "bf16" as const,
    config: {
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
      num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, vocab_size: 128256, max_position_embeddings: 8192,
      rms_norm_eps: 1e-5, rope_theta: 500000, hidden_act: "silu", tie_word_embeddings: false, attention_bias: false,
      bos_token_id: 128000, eos_token_id: 128001, torch_dtype: "bfloat16",
    },
  },
};

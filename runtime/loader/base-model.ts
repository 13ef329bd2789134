// Base-model checkpoints (transformers' *Model classes: MistralModel, LlamaModel, Qwen2Model,
// Qwen3Model), as embedding models such as e5-mistral ship: the decoder without an LM head, saved
// from the inner model, so their tensors lack the "model." prefix that *ForCausalLM checkpoints
// have (embed_tokens.weight, layers.0...). The loader gives them the prefix, so that one model
// definition reads both; such a model can only run as a pooling model (its LM head is absent).
import type { LoadedTensor, ModelConfig } from "./types.ts";

/** Whether the config names a transformers base model (no LM head). */
export function isBaseModel(config: ModelConfig): boolean {
  return config.architecture.endsWith("Model");
}

/** Renames a base model's tensors to their *ForCausalLM names ("model." + name); others are left as they are. */
export function prefixBaseModelTensors(config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  if (!isBaseModel(config) || [...tensors.keys()].some((name) => name.startsWith("model."))) return;
  for (const [name, tensor] of [...tensors]) {
    tensors.delete(name);
    tensors.set(`model.${name}`, { ...tensor, name: `model.${name}` });
  }
}

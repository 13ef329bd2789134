// How a family's checkpoint tensors become the model's parameters (vLLM's stacked_params_mapping):
// each fused parameter, named by its suffix inside a layer, is the listed checkpoint tensors stacked
// in row order. Each model file exports its own map; a checkpoint that already stores a fused
// parameter (Phi-3's qkv_proj and gate_up_proj) lists nothing for it.
export type WeightMap = Readonly<Record<string, readonly string[]>>;

// Writes a random LoRA adapter for a LLaMA model config as PEFT saves one (adapter_config.json
// and adapter_model.safetensors, tensors named base_model.model.<module>.lora_A/B.weight), and on
// request as llama.cpp's GGUF adapter of the same values, for tests and benchmarks. Unlike a freshly initialised PEFT adapter (B = 0), B is random too, so the
// adapter changes the model's outputs.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attentionTensors, headDimOf, mlpTensors, type HfConfig } from "./arch/spec.ts";
import { f32, str, type GgufMetadata } from "./gguf-values.ts";
import { writeGguf, type GgufTensorEntry } from "./gguf-writer.ts";
import { permuteForAdjacentPairRope } from "./tensor-plan.ts";
import { NormalStream } from "./normal-stream.ts";
import { writeSafetensors } from "./safetensors-writer.ts";

/** The modules PEFT names in target_modules for LLaMA-style layers. */
export const llamaLoraModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
/** Phi-3's checkpoints hold q/k/v and gate/up fused, and its adapters train them so. */
export const phi3LoraModules = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"] as const;
export type LoraModuleName = (typeof llamaLoraModules)[number] | (typeof phi3LoraModules)[number];

export interface RandomLoraOptions {
  outDir: string;
  /** The base model's config.json. */
  config: HfConfig;
  rank: number;
  alpha: number;
  targetModules?: readonly LoraModuleName[];
  useRslora?: boolean;
  seed?: number;
  /** Standard deviation of B's entries (A's is 1 / sqrt(in_features), about unit-sized x A). */
  bStd?: number;
  /** Also writes adapter.gguf: the same adapter as llama.cpp's convert_lora_to_gguf.py makes it. */
  gguf?: boolean;
}

/** [out_features, in_features] of each module of a LLaMA-style layer. */
function moduleShape(config: HfConfig, module: LoraModuleName): [number, number] {
  const hidden = config.hidden_size;
  const headDim = headDimOf(config);
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  const shapes: Record<LoraModuleName, [number, number]> = {
    q_proj: [q, hidden],
    qkv_proj: [q + 2 * kv, hidden],
    gate_up_proj: [2 * config.intermediate_size, hidden],
    k_proj: [kv, hidden],
    v_proj: [kv, hidden],
    o_proj: [hidden, q],
    gate_proj: [config.intermediate_size, hidden],
    up_proj: [config.intermediate_size, hidden],
    down_proj: [hidden, config.intermediate_size],
  };
  return shapes[module];
}

const layerOf = (module: LoraModuleName) => (["gate_proj", "up_proj", "gate_up_proj", "down_proj"].includes(module) ? "mlp" : "self_attn");

export function writeRandomLoraAdapter(options: RandomLoraOptions): string {
  const { config, rank, alpha, outDir } = options;
  const targets = options.targetModules ?? llamaLoraModules;
  const seed = String(options.seed ?? 0);
  mkdirSync(outDir, { recursive: true });
  const entries = [];
  const ggufTensors: GgufTensorEntry[] = [];
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const plans = new Map([...attentionTensors(config, layer, true), ...mlpTensors(config, layer)].map((p) => [p.hfName, p]));
    for (const module of targets) {
      const [outFeatures, inFeatures] = moduleShape(config, module);
      const moduleName = `model.layers.${layer}.${layerOf(module)}.${module}`;
      const plan = plans.get(`${moduleName}.weight`);
      if (options.gguf && !plan) throw new Error(`no GGUF tensor for ${moduleName}: GGUF adapters are written for LLaMA's modules`);
      for (const [part, shape, std] of [["lora_A", [rank, inFeatures], 1 / Math.sqrt(inFeatures)], ["lora_B", [outFeatures, rank], options.bStd ?? 0.05]] as const) {
        const name = `base_model.model.${moduleName}.${part}.weight`;
        const values = new Float32Array(shape[0] * shape[1]);
        new NormalStream(seed, name).fill(values, 0, std);
        entries.push({ name, dtype: "f32" as const, shape: [...shape], chunks: () => [new Uint8Array(values.buffer)] });
        // llama.cpp's q and k rows are interleaved per head for its RoPE, so B's rows are too.
        if (!plan) continue;
        const stored = part === "lora_B" && plan.ggufPermuteHeads ? permuteForAdjacentPairRope(values, plan.ggufPermuteHeads, rank) : values;
        ggufTensors.push({ name: `${plan.ggufName}.${part === "lora_A" ? "lora_a" : "lora_b"}`, type: "F32", dims: [shape[1], shape[0]], chunks: () => [new Uint8Array(stored.buffer)] });
      }
    }
  }
  writeSafetensors(join(outDir, "adapter_model.safetensors"), entries);
  if (options.gguf) {
    // llama.cpp scales by alpha / rank; rsLoRA's alpha / sqrt(rank) is that with alpha * sqrt(rank).
    const ggufAlpha = options.useRslora ? alpha * Math.sqrt(rank) : alpha;
    const metadata: GgufMetadata = new Map([["general.architecture", str("llama")], ["general.type", str("adapter")], ["adapter.type", str("lora")], ["adapter.lora.alpha", f32(ggufAlpha)]]);
    writeGguf(join(outDir, "adapter.gguf"), metadata, ggufTensors);
  }
  const adapterConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: rank,
    lora_alpha: alpha,
    lora_dropout: 0,
    target_modules: [...targets],
    bias: "none",
    use_rslora: options.useRslora ?? false,
    use_dora: false,
    fan_in_fan_out: false,
    modules_to_save: null,
    rank_pattern: {},
    alpha_pattern: {},
    base_model_name_or_path: null,
  };
  writeFileSync(join(outDir, "adapter_config.json"), `${JSON.stringify(adapterConfig, null, 2)}\n`);
  return outDir;
}

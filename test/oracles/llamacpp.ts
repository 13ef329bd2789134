// The llama.cpp oracle: the same GGUF weights run by llama.cpp (through the pinned node-llama-cpp
// CPU prebuilt), so a tsvllm model can be checked token by token and probability by probability.
// Everything is set for exactness, not speed: CPU only, one thread, an f32 KV cache and no flash
// attention (so attention stays f32 end to end), and sampling reduced to plain argmax.

import { getLlama, LlamaLogLevel, type Llama, type Token } from "node-llama-cpp";

export interface OracleOptions {
  /** KV cache size in tokens; llama.cpp may round it up (to a multiple of 256). */
  contextSize: number;
  /** A GGUF LoRA adapter applied to the model (scale 1: its own alpha / rank). */
  loraPath?: string;
}

export interface LlamaCppOracle {
  /** The vocabulary size llama.cpp reads from the GGUF (length of every distribution). */
  readonly vocabSize: number;
  /** llama.cpp's own tokenizer; special-token text such as "<s>" is parsed as the special token. */
  tokenize(text: string, addBos: boolean): number[];
  /** Text of the ids, special tokens rendered as their text. */
  detokenize(ids: readonly number[]): string;
  /**
   * Teacher forcing in one evaluation: element i is the distribution of the token after
   * tokenIds[0..i], softmax of the raw logits over the whole vocabulary, indexed by token id.
   */
  nextTokenDistributions(tokenIds: readonly number[]): Promise<Float32Array[]>;
  /**
   * Greedy continuation of promptIds (argmax, no repeat penalty, no top-k/top-p). Stops after
   * maxTokens tokens or right after an end-of-generation token, which is included in the result.
   */
  greedy(promptIds: readonly number[], maxTokens: number): Promise<number[]>;
  dispose(): Promise<void>;
}

// The native binding is loaded once per process; every oracle shares it.
let llamaPromise: Promise<Llama> | undefined;
function loadLlama(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
  return llamaPromise;
}

// Temperature 0 makes node-llama-cpp's sampler chain a lone greedy sampler, which picks the argmax
// without touching the logits; its probabilities are then exactly softmax(logits) over the full
// vocabulary (top-k, top-p, min-p and temperature samplers are only chained when temperature > 0).
const argmaxSampling = { temperature: 0 } as const;

export async function openOracle(ggufPath: string, options: OracleOptions): Promise<LlamaCppOracle> {
  const llama = await loadLlama();
  const model = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: options.contextSize,
    sequences: 1,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
    ...(options.loraPath ? { lora: { adapters: [{ filePath: options.loraPath }] } } : {}),
  });
  const sequence = context.getSequence();
  const vocabSize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
  const asTokens = (ids: readonly number[]) => ids as readonly number[] as Token[];

  return {
    vocabSize,

    tokenize(text, addBos) {
      const ids: number[] = model.tokenize(text, true);
      const bos = model.tokens.bos;
      if (!addBos) return ids;
      if (bos == null) throw new Error(`${ggufPath} has no BOS token`);
      return [bos, ...ids];
    },

    detokenize(ids) {
      return model.detokenize(asTokens(ids), true);
    },

    async nextTokenDistributions(tokenIds) {
      // Each call starts from an empty KV cache so results never depend on earlier calls.
      await sequence.clearHistory();
      const outputs = await sequence.controlledEvaluate(
        asTokens(tokenIds).map((token) => [token, { generateNext: { probabilities: true, options: argmaxSampling } }]),
      );
      return tokenIds.map((_, position) => {
        const probabilities = outputs[position]?.next.probabilities;
        if (probabilities == null) throw new Error(`llama.cpp returned no distribution at position ${position}`);
        const distribution = new Float32Array(vocabSize);
        for (const [token, probability] of probabilities) distribution[token] = probability;
        return distribution;
      });
    },

    async greedy(promptIds, maxTokens) {
      await sequence.clearHistory();
      const generated: number[] = [];
      if (maxTokens <= 0) return generated;
      for await (const token of sequence.evaluate(asTokens(promptIds), { ...argmaxSampling, yieldEogToken: true })) {
        generated.push(token);
        if (generated.length >= maxTokens || model.isEogToken(token)) break;
      }
      return generated;
    },

    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

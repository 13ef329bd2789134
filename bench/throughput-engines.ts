// The engines `tsvllm bench throughput` drives, behind one interface so that every measurement
// runs the same requests the same way on each: ours through the offline LLM API, and llama.cpp
// through node-llama-cpp (one model, a context per thread count, parallel sequences) on the same
// GGUF weights. All stay loaded for the whole run, so the bench can alternate between them.
import type { SpeculativeArgs } from "../runtime/engine/speculative.ts";
import { LLM, type LoRARequest } from "../index.ts";

export interface BenchEngine {
  /** As printed: "tsvllm (2 threads)", "llama.cpp (1 thread)". */
  readonly name: string;
  readonly threads: number;
  /** Greedy generation of every prompt at once, maxTokens each (EOS ignored); output tokens generated. */
  batched(prompts: number[][], maxTokens: number): Promise<number>;
  /** One prompt alone: decode tokens/s from its first output token to its last (its prefill not counted). */
  singleStream(prompt: number[], maxTokens: number): Promise<number>;
  /** With speculative decoding: draft tokens proposed and accepted so far. */
  drafts?(): { proposed: number; accepted: number };
  close(): Promise<void>;
}

const threadsLabel = (threads: number) => `${threads} thread${threads > 1 ? "s" : ""}`;

export interface OurEngineOptions {
  model: string;
  threads: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  speculativeConfig?: SpeculativeArgs;
  /** Prompts run under these adapters in turn, on a model compiled with maxLoras slots. */
  lora?: { adapters: LoRARequest[]; maxLoras: number; maxLoraRank: number };
}

export async function openOurs(o: OurEngineOptions): Promise<BenchEngine> {
  const loraOptions = o.lora ? { enableLora: true, maxLoras: o.lora.maxLoras, maxLoraRank: o.lora.maxLoraRank } : {};
  const llm = await LLM.create({ model: o.model, maxNumSeqs: o.maxNumSeqs, maxNumBatchedTokens: o.maxNumBatchedTokens, numThreads: o.threads, speculativeConfig: o.speculativeConfig, ...loraOptions, logger: () => {} });
  const params = (maxTokens: number) => ({ maxTokens, ignoreEos: true, temperature: 0 });
  const adapters = o.lora?.adapters ?? [];
  const loraRequest = (prompts: number[][]) => (adapters.length > 0 ? prompts.map((_, i) => adapters[i % adapters.length]) : null);
  const loraLabel = adapters.length > 0 ? `, ${adapters.length} LoRA adapter${adapters.length > 1 ? "s" : ""}` : "";
  const label = (o.speculativeConfig ? `${threadsLabel(o.threads)}, n-gram speculative decoding` : threadsLabel(o.threads)) + loraLabel;
  return {
    name: `tsvllm (${label})`,
    threads: o.threads,
    async batched(prompts, maxTokens) {
      const outs = await llm.generate(prompts.map((p) => ({ promptTokenIds: p })), params(maxTokens), { loraRequest: loraRequest(prompts) });
      return outs.reduce((a, r) => a + r.outputs[0].tokenIds.length, 0);
    },
    async singleStream(prompt, maxTokens) {
      const [single] = await llm.generate([{ promptTokenIds: prompt }], params(maxTokens), { loraRequest: loraRequest([prompt]) });
      const { firstTokenTime, lastTokenTime } = single.metrics;
      return (single.outputs[0].tokenIds.length - 1) / (lastTokenTime! - firstTokenTime!);
    },
    drafts: o.speculativeConfig
      ? () => {
        const stats = llm.stats();
        return { proposed: stats.specDecodeNumDraftTokens, accepted: stats.specDecodeNumAcceptedTokens };
      }
      : undefined,
    async close() {
      llm.close();
    },
  };
}

export interface PeerOptions {
  gguf: string;
  /** One engine per thread count (llama.cpp's workers busy-wait, so on 2 cores 1 thread may win). */
  threads: number[];
  /** Sequences each context holds, and the longest prompt + output. */
  sequences: number;
  sequenceLength: number;
  /** A GGUF LoRA adapter every sequence runs under. */
  lora?: string;
}

/** llama.cpp on the GGUF, one BenchEngine per thread count, sharing one loaded model. */
export async function openLlamaCpp(o: PeerOptions): Promise<BenchEngine[]> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
  const model = await llama.loadModel({ modelPath: o.gguf, gpuLayers: 0 });
  let open = o.threads.length;
  return Promise.all(o.threads.map(async (threads): Promise<BenchEngine> => {
    const lora = o.lora ? { lora: { adapters: [{ filePath: o.lora }] } } : {};
    const context = await model.createContext({ sequences: o.sequences, contextSize: o.sequences * (o.sequenceLength + 16), threads, batchSize: Math.max(512, o.sequenceLength), ...lora });
    /** Generates maxTokens tokens; the count and the seconds from the first token to the last. */
    const generate = async (prompt: number[], maxTokens: number) => {
      const seq = context.getSequence();
      let n = 0;
      let first = 0;
      for await (const _ of seq.evaluate(prompt as never, { temperature: 0 })) {
        if (n++ === 0) first = performance.now();
        if (n >= maxTokens) break;
      }
      const decodeSeconds = (performance.now() - first) / 1000;
      seq.dispose();
      return { n, decodeSeconds };
    };
    return {
      name: `llama.cpp (${threadsLabel(threads)}${o.lora ? ", LoRA adapter" : ""})`,
      threads,
      async batched(prompts, maxTokens) {
        const counts = await Promise.all(prompts.map((p) => generate(p, maxTokens)));
        return counts.reduce((a, c) => a + c.n, 0);
      },
      async singleStream(prompt, maxTokens) {
        const single = await generate(prompt, maxTokens);
        return (single.n - 1) / single.decodeSeconds;
      },
      async close() {
        await context.dispose();
        if (--open === 0) await model.dispose();
      },
    };
  }));
}

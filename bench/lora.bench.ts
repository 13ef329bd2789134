// Multi-LoRA serving beside llama.cpp, in one run on the same weights: random rank-r adapters on
// every linear of a LLaMA model (HF folder with model.gguf beside it, e.g. `tsvllm make-random-model
// --shape tinyllama-1.1b`), written as PEFT folders and, for llama.cpp, the first as a GGUF adapter.
// The same seeded prompts run greedy on: tsvllm without adapters, with one adapter, with four
// adapters mixed in one batch (requests round-robin over them, max_loras 4); llama.cpp without and
// with the adapter (a context runs one adapter set, so it has no mixed batch). Prints output
// tokens/s batched and single-stream for each, what an adapter costs each engine, and tsvllm's
// ratio to llama.cpp under the adapter; engines alternate over two rounds.
//   npx tsx bench/lora.bench.ts [modelDir] [numPrompts] [inputLen] [outputLen] [rank]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoRARequest } from "../index.ts";
import { writeRandomLoraAdapter } from "../models/random/lora-adapter.ts";
import type { HfConfig } from "../models/random/arch/spec.ts";
import { randomPrompts } from "./throughput.ts";
import { openLlamaCpp, openOurs, type BenchEngine } from "./throughput-engines.ts";

const [modelDir = "/tmp/tinyllama", numPromptsArg = "8", inputLenArg = "32", outputLenArg = "16", rankArg = "16"] = process.argv.slice(2);
const [numPrompts, inputLen, outputLen, rank] = [numPromptsArg, inputLenArg, outputLenArg, rankArg].map(Number);
const threads = 2;
const config = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8")) as HfConfig;
const work = mkdtempSync(join(tmpdir(), "tsvllm-lora-bench-"));
const adapters = [0, 1, 2, 3].map((seed) => new LoRARequest(`adapter-${seed}`, seed + 1, writeRandomLoraAdapter({ outDir: join(work, `adapter-${seed}`), config, rank, alpha: 2 * rank, seed, gguf: seed === 0 })));
const ours = { model: modelDir, threads, maxNumSeqs: numPrompts, maxNumBatchedTokens: 2048 };
const lora = (list: LoRARequest[]) => ({ ...ours, lora: { adapters: list, maxLoras: 4, maxLoraRank: rank } });
const peer = { gguf: join(modelDir, "model.gguf"), threads: [threads], sequences: numPrompts, sequenceLength: inputLen + outputLen };
const engines: BenchEngine[] = [
  await openOurs(ours),
  await openOurs(lora(adapters.slice(0, 1))),
  await openOurs(lora(adapters)),
  ...(await openLlamaCpp(peer)),
  ...(await openLlamaCpp({ ...peer, lora: join(work, "adapter-0", "adapter.gguf") })),
];
const prompts = randomPrompts(numPrompts, inputLen, config.vocab_size, 1);
for (const engine of engines) await engine.batched(prompts.slice(0, 2), 2);

const batched = engines.map(() => [] as number[]);
const single = engines.map(() => [] as number[]);
const settle = () => new Promise((resolve) => setTimeout(resolve, 250));
for (let round = 0; round < 2; round++) {
  for (let i = 0; i < engines.length; i++) {
    const e = (round + i) % engines.length;
    await settle();
    const start = performance.now();
    const tokens = await engines[e].batched(prompts, outputLen);
    batched[e].push(tokens / ((performance.now() - start) / 1000));
    await settle();
    single[e].push(await engines[e].singleStream(prompts[0], outputLen));
  }
}
const best = (list: number[]) => Math.max(...list);
engines.forEach((engine, e) => console.log(`${engine.name.padEnd(46)} batched ${batched[e].map((r) => r.toFixed(1)).join(", ")} output tokens/s; single-stream ${single[e].map((r) => r.toFixed(1)).join(", ")} tokens/s`));
const [base, one, four, peerBase, peerOne] = engines.map((_, e) => ({ batched: best(batched[e]), single: best(single[e]) }));
const cost = (a: number, b: number) => `${((1 - b / a) * 100).toFixed(1)}%`;
console.log(`an adapter costs tsvllm ${cost(base.batched, one.batched)} batched, ${cost(base.single, one.single)} single-stream; four mixed ${cost(base.batched, four.batched)} batched`);
console.log(`an adapter costs llama.cpp ${cost(peerBase.batched, peerOne.batched)} batched, ${cost(peerBase.single, peerOne.single)} single-stream`);
console.log(`under the adapter, tsvllm / llama.cpp: batched ${(one.batched / peerOne.batched).toFixed(2)}x, single-stream ${(one.single / peerOne.single).toFixed(2)}x; four adapters mixed vs llama.cpp's one: ${(four.batched / peerOne.batched).toFixed(2)}x (best of 2 rounds, ${threads} threads each, rank ${rank}, ${numPrompts} prompts of ${inputLen} tokens, ${outputLen} out)`);
for (const engine of engines) await engine.close();
rmSync(work, { recursive: true, force: true });

// Structured output's cost beside llama.cpp's, in one run on the same GGUF: the same seeded
// random prompts, greedy, without and with a JSON-schema constraint, on tsvllm (schema -> regex ->
// DFA -> per-state token lists -> native sampler) and on llama.cpp (node-llama-cpp's JSON-schema
// grammar). Prints each engine's output tokens/s both ways, what the constraint costs each, and
// tsvllm's ratio to llama.cpp with it. With llama-2-tiny-random (dim 8, real 32000-token Llama-2
// vocabulary) the forward pass is next to nothing, so the run measures the per-token overhead of
// engine, sampler and constraint.
//   npx tsx bench/structured-output.bench.ts [model.gguf] [numPrompts] [outputLen]
import { getLlama, LlamaGrammarEvaluationState, type LlamaContext, type LlamaGrammar, type LlamaModel } from "node-llama-cpp";
import { LLM } from "../index.ts";
import { samplingParams } from "../runtime/engine/types.ts";
import { randomPrompts } from "./throughput.ts";

const [model = "../shared/models/llama-2-tiny-random/llama-2-tiny-random.gguf", numPromptsArg = "16", outputLenArg = "64"] = process.argv.slice(2);
const numPrompts = Number(numPromptsArg);
const outputLen = Number(outputLenArg);
const schema = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" }, tags: { type: "array", items: { type: "string" } }, ok: { type: "boolean" } },
  required: ["name", "age", "tags", "ok"],
} as const;

interface Run {
  tokens: number;
  seconds: number;
}

async function timed(work: () => Promise<number>): Promise<Run> {
  const start = performance.now();
  const tokens = await work();
  return { tokens, seconds: (performance.now() - start) / 1000 };
}

async function ours(llm: LLM, prompts: number[][], constrained: boolean): Promise<number> {
  const params = samplingParams({ temperature: 0, maxTokens: outputLen, ignoreEos: !constrained, structuredOutputs: constrained ? { json: schema } : null });
  const outs = await llm.generate(prompts.map((p) => ({ promptTokenIds: p })), params);
  return outs.reduce((sum, o) => sum + o.outputs[0].tokenIds.length, 0);
}

async function peer(llamaModel: LlamaModel, context: LlamaContext, grammar: LlamaGrammar, prompts: number[][], constrained: boolean): Promise<number> {
  const counts = await Promise.all(prompts.map(async (prompt) => {
    const seq = context.getSequence();
    const grammarEvaluationState = constrained ? new LlamaGrammarEvaluationState({ model: llamaModel, grammar }) : undefined;
    let n = 0;
    for await (const token of seq.evaluate(prompt as never, { temperature: 0, grammarEvaluationState })) {
      n++;
      if (n >= outputLen || (constrained && token === llamaModel.tokens.eos)) break;
    }
    seq.dispose();
    return n;
  }));
  return counts.reduce((a, b) => a + b, 0);
}

const rate = (r: Run) => r.tokens / r.seconds;
const llm = await LLM.create({ model, maxNumSeqs: numPrompts, logger: () => {} });
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
const llamaModel = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const context = await llamaModel.createContext({ sequences: numPrompts + 2, contextSize: (numPrompts + 2) * (outputLen + 32), threads: 1 });
const grammar = await llama.createGrammarForJsonSchema(schema as never);
const prompts = randomPrompts(numPrompts, 16, llm.engine.vocabSize, 1);
await ours(llm, prompts.slice(0, 2), true);
await peer(llamaModel, context, grammar, prompts.slice(0, 2), true);
// Alternating engines and modes, twice, so that neither one sees only the machine's good minutes.
const runs: Record<string, Run[]> = { "tsvllm free": [], "tsvllm json": [], "llama.cpp free": [], "llama.cpp json": [] };
for (let round = 0; round < 2; round++) {
  for (const constrained of [false, true]) {
    runs[`tsvllm ${constrained ? "json" : "free"}`].push(await timed(() => ours(llm, prompts, constrained)));
    runs[`llama.cpp ${constrained ? "json" : "free"}`].push(await timed(() => peer(llamaModel, context, grammar, prompts, constrained)));
  }
}
const best = (name: string) => Math.max(...runs[name].map(rate));
for (const [name, list] of Object.entries(runs)) console.log(`${name}: ${list.map((r) => `${r.tokens} tokens, ${rate(r).toFixed(0)} tokens/s`).join("; ")}`);
console.log(`constraint costs tsvllm ${((1 - best("tsvllm json") / best("tsvllm free")) * 100).toFixed(1)}% of its tokens/s, llama.cpp ${((1 - best("llama.cpp json") / best("llama.cpp free")) * 100).toFixed(1)}%`);
console.log(`with the JSON schema: tsvllm ${best("tsvllm json").toFixed(0)} vs llama.cpp ${best("llama.cpp json").toFixed(0)} output tokens/s = ${(best("tsvllm json") / best("llama.cpp json")).toFixed(2)}x (best of 2 rounds each; llama.cpp 1 thread)`);
llm.close();
await context.dispose();
await llamaModel.dispose();

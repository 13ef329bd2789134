// --enable-prompt-tokens-details over the real engine (stories260K): a repeated prompt's usage
// reports prompt_tokens_details.cached_tokens, the prefix-cache hit the engine counted for it (whole
// blocks, all but the block holding the last prompt token); as in vLLM the details are absent when
// nothing was cached or the flag is off, while /v1/responses always reports cached_tokens.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM } from "../../index.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, metricValue, postJson } from "../support/server-harness.ts";

const M = "stories260K-hf";
const blockSize = 16;
const test = suite("server: prompt_tokens_details.cached_tokens (real engine)");
let engine: AsyncLLM;
let apps: ReturnType<typeof createServer>[];
let base: string;
let plainBase: string;
let client: OpenAI;

const prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her dog.";

/** The prefix-cache hits the engine has counted so far, from /metrics. */
async function prefixCacheHits(): Promise<number> {
  return metricValue(await (await fetch(`${base}/metrics`)).text(), "vllm:prefix_cache_hits_total")!;
}

test.before(async () => {
  engine = await AsyncLLM.create({ model: "../shared/models/stories260K-hf", blockSize, maxNumSeqs: 8, kvCacheMemoryBytes: 16 * 2 ** 20, logger: () => {} });
  apps = [createServer({ engine, servedModelName: [M], enablePromptTokensDetails: true }), createServer({ engine, servedModelName: [M] })];
  ({ base, client } = await listenWithClient(apps[0]));
  plainBase = (await listenWithClient(apps[1])).base;
});
test.after(async () => {
  for (const app of apps ?? []) await app.close();
  await engine?.shutdown();
});

test("a repeated completion prompt reports the blocks it read from the prefix cache", async () => {
  const first = await client.completions.create({ model: M, prompt, max_tokens: 4, temperature: 0 });
  assert.is(first.usage!.prompt_tokens_details, undefined, "nothing cached yet: no details, as in vLLM");
  const promptTokens = first.usage!.prompt_tokens;
  assert.ok(promptTokens > 2 * blockSize, "the prompt spans several blocks");
  const hitsBefore = await prefixCacheHits();
  const repeat = await client.completions.create({ model: M, prompt, max_tokens: 4, temperature: 0 });
  const cached = repeat.usage!.prompt_tokens_details!.cached_tokens!;
  assert.is(cached, await prefixCacheHits() - hitsBefore, "the engine's own count of this request's hits");
  assert.is(cached, Math.floor((promptTokens - 1) / blockSize) * blockSize);
  assert.is(cached % blockSize, 0);
  assert.is(repeat.choices[0].text, first.choices[0].text);
});

test("chat answers report it whole and streamed, and the stream's usage chunk carries it", async () => {
  const messages = [{ role: "user" as const, content: prompt }];
  await client.chat.completions.create({ model: M, messages, max_tokens: 4, temperature: 0 });
  const whole = await client.chat.completions.create({ model: M, messages, max_tokens: 4, temperature: 0 });
  const cached = whole.usage!.prompt_tokens_details!.cached_tokens!;
  assert.is(cached, Math.floor((whole.usage!.prompt_tokens - 1) / blockSize) * blockSize);
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of await client.chat.completions.create({ model: M, messages, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true } })) usage = chunk.usage ?? usage;
  assert.is(usage!.prompt_tokens_details!.cached_tokens, cached);
});

test("without the flag chat and completions leave the details out", async () => {
  const { json } = await postJson(`${plainBase}/v1/completions`, { model: M, prompt, max_tokens: 4, temperature: 0 });
  assert.ok(json.usage.prompt_tokens > blockSize);
  assert.is(json.usage.prompt_tokens_details, undefined);
});

test("/v1/responses reports input_tokens_details.cached_tokens, flag or not", async () => {
  const body = { model: M, input: prompt, max_output_tokens: 4, temperature: 0 };
  await postJson(`${plainBase}/v1/responses`, body);
  const { json } = await postJson(`${plainBase}/v1/responses`, body);
  assert.is(json.usage.input_tokens_details.cached_tokens, Math.floor((json.usage.input_tokens - 1) / blockSize) * blockSize);
});

test.run();

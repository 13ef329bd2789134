// The server over the FakeEngine but with a real tokenizer (stories260K's SentencePiece
// tokenizer.json): BOS conventions, usage, tokenize round trips and streaming with real pieces.
import { existsSync } from "node:fs";
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadHfTokenizer } from "../../runtime/tokenizer/hf-tokenizer.ts";
import { postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const modelDir = new URL("../../../shared/models/stories260K-hf", import.meta.url).pathname;
const M = "test-model";
const test = suite("server: a real tokenizer (stories260K)");
let server: TestServer | null = null;
let client: OpenAI;

test.before(async () => {
  if (!existsSync(modelDir)) return;
  server = await startTestServer({ fake: { tokenizer: await loadHfTokenizer(modelDir), maxModelLen: 256 } });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
test.after(async () => server?.close());

test("a text prompt gets one BOS; token ids get none; chat gets one", async () => {
  if (!server) return;
  const tokenizer = server.engine.tokenizer;
  const bos = tokenizer.bosTokenId!;
  const text = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 3, ...({ return_token_ids: true } as object) });
  const textIds = (text.choices[0] as unknown as { prompt_token_ids: number[] }).prompt_token_ids;
  assert.is(textIds[0], bos);
  assert.is(textIds.filter((id) => id === bos).length, 1);
  assert.equal(textIds, tokenizer.encode("Once upon a time", { addSpecialTokens: true }));
  const bare = tokenizer.encode("Once upon a time", { addSpecialTokens: false });
  const ids = await client.completions.create({ model: M, prompt: bare, max_tokens: 3 });
  assert.is(ids.usage!.prompt_tokens, bare.length);
  const chat = await client.chat.completions.create({ model: M, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 3, ...({ return_token_ids: true } as object) });
  const chatIds = (chat as unknown as { prompt_token_ids: number[] }).prompt_token_ids;
  assert.is(chatIds.filter((id) => id === bos).length, 1);
  assert.is(chatIds[0], bos);
});

test("tokenize and detokenize round-trip", async () => {
  if (!server) return;
  const tokenized = await postJson(`${server.url}/tokenize`, { prompt: "The little dog ran.", add_special_tokens: false, return_token_strs: true });
  assert.is(tokenized.json.count, tokenized.json.tokens.length);
  const back = await postJson(`${server.url}/detokenize`, { tokens: tokenized.json.tokens });
  assert.is(back.json.prompt.trim(), "The little dog ran.");
});

test("streamed text equals the whole answer and usage matches", async () => {
  if (!server) return;
  const body = { model: M, prompt: "The cat sat on the mat and", max_tokens: 20, ...({ ignore_eos: true } as object) };
  const whole = await client.completions.create(body);
  const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let usage: OpenAI.Completions.CompletionUsage | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? "";
    usage = chunk.usage ?? usage;
  }
  assert.is(text, whole.choices[0].text);
  assert.equal(usage, whole.usage);
  assert.is(whole.usage!.completion_tokens, 20);
});

test("logprobs tokens use the tokenizer's pieces", async () => {
  if (!server) return;
  const answer = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 4, logprobs: 1 });
  const tokens = answer.choices[0].logprobs!.tokens!;
  assert.is(tokens.length, 4);
  assert.ok(tokens.every((t) => t.length > 0));
});

test.run();

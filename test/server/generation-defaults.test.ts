// The model's generation config defaults on the server (vLLM's --generation-config auto): a field a
// request leaves out takes the model's default, one it sets is kept, and max_new_tokens caps every
// request's max_tokens, in completions, chat and responses alike.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: generation config defaults");
const defaults = { temperature: 0.6, topP: 0.9, topK: 20, minP: 0.05, repetitionPenalty: 1.1, maxTokens: 6 };
let server: TestServer;

test.before(async () => {
  server = await startTestServer({ fake: { defaultSamplingParams: defaults } });
});
test.after(async () => server.close());

const lastParams = () => server.fake!.requests.at(-1)!.params;

test("unset fields take the model's defaults; set ones are kept", async () => {
  await postJson(`${server.baseURL}/completions`, { model: "test-model", prompt: "hello", max_tokens: 3 });
  const p = lastParams();
  assert.equal([p.temperature, p.topP, p.topK, p.minP, p.repetitionPenalty], [0.6, 0.9, 20, 0.05, 1.1]);
  await postJson(`${server.baseURL}/chat/completions`, { model: "test-model", messages: [{ role: "user", content: "hi" }], temperature: 0, top_k: 0, repetition_penalty: 1 });
  const q = lastParams();
  assert.equal([q.temperature, q.topP, q.topK, q.minP, q.repetitionPenalty], [0, 0.9, 0, 0.05, 1]);
});

test("max_new_tokens caps max_tokens everywhere, and is the chat default", async () => {
  const completion = await postJson(`${server.baseURL}/completions`, { model: "test-model", prompt: "a long enough prompt here", max_tokens: 50 });
  assert.is(completion.status, 200);
  assert.is(lastParams().maxTokens, 6);
  await postJson(`${server.baseURL}/completions`, { model: "test-model", prompt: "a long enough prompt here", max_tokens: 4 });
  assert.is(lastParams().maxTokens, 4);
  await postJson(`${server.baseURL}/chat/completions`, { model: "test-model", messages: [{ role: "user", content: "hi" }] });
  assert.is(lastParams().maxTokens, 6);
  const response = await postJson(`${server.baseURL}/responses`, { model: "test-model", input: "hi", max_output_tokens: 100 });
  assert.is(response.status, 200);
  assert.is(lastParams().maxTokens, 6);
  const tooFew = await postJson(`${server.baseURL}/completions`, { model: "test-model", prompt: "hello", min_tokens: 8 });
  assert.is(tooFew.status, 400, "min_tokens above the capped max_tokens");
});

test.run();

// Hostile and broken requests: each gets the right 4xx in OpenAI's error shape, naming the
// parameter where there is one, and the server stays healthy afterwards.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: hostile input");
let server: TestServer;

test.before(async () => {
  server = await startTestServer({ fake: { maxModelLen: 128 } });
});
test.after(async () => server.close());

function assertOpenAIError(json: any, code: string, param: string | null = null): void {
  assert.type(json?.error?.message, "string");
  assert.type(json.error.type, "string");
  assert.is(json.error.code, code);
  if (param !== null) assert.is(json.error.param, param);
}

async function expectError(path: string, body: unknown, status: number, code: string, param: string | null = null): Promise<any> {
  const { status: got, json } = await postJson(`${server.url}${path}`, body);
  assert.is(got, status, `${JSON.stringify(body).slice(0, 80)} -> ${JSON.stringify(json)}`);
  assertOpenAIError(json, code, param);
  return json;
}

test("malformed JSON, an empty body and a non-object body", async () => {
  await expectError("/v1/completions", '{"prompt": "x",', 400, "invalid_json");
  await expectError("/v1/completions", "", 400, "invalid_json");
  await expectError("/v1/completions", "[1, 2]", 400, "invalid_parameter");
  await expectError("/v1/chat/completions", "null", 400, "invalid_parameter");
});

test("wrong types are errors, never coerced", async () => {
  await expectError("/v1/completions", { prompt: 5 }, 400, "invalid_parameter", "prompt");
  await expectError("/v1/completions", { prompt: "x", max_tokens: "10" }, 400, "invalid_parameter", "max_tokens");
  await expectError("/v1/completions", { prompt: "x", n: 1.5 }, 400, "invalid_parameter", "n");
  await expectError("/v1/completions", { prompt: "x", stream: "yes" }, 400, "invalid_parameter", "stream");
  await expectError("/v1/completions", { prompt: [1, "a"] }, 400, "invalid_parameter", "prompt");
  await expectError("/v1/completions", { prompt: "x", stop: [1] }, 400, "invalid_parameter", "stop");
  await expectError("/v1/chat/completions", { messages: "hi" }, 400, "invalid_parameter", "messages");
  await expectError("/v1/chat/completions", { messages: [{ role: "wizard", content: "x" }] }, 400, "invalid_parameter", "messages[0].role");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: 3 }] }, 400, "invalid_parameter", "messages[0].content");
});

test("missing required fields name the field", async () => {
  const json = await expectError("/v1/completions", { max_tokens: 3 }, 400, "missing_parameter", "prompt");
  assert.match(json.error.message, "prompt");
  await expectError("/v1/chat/completions", { model: "test-model" }, 400, "missing_parameter", "messages");
  await expectError("/v1/chat/completions", { messages: [] }, 400, "invalid_parameter", "messages");
});

test("out-of-range values", async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ temperature: -1 }, "temperature"],
    [{ top_p: 0 }, "top_p"],
    [{ top_p: 1.5 }, "top_p"],
    [{ top_k: -2 }, "top_k"],
    [{ min_p: 2 }, "min_p"],
    [{ n: 0 }, "n"],
    [{ n: 129 }, "n"],
    [{ max_tokens: 0 }, "max_tokens"],
    [{ logprobs: 21 }, "logprobs"],
    [{ presence_penalty: 3 }, "presence_penalty"],
    [{ frequency_penalty: -2.5 }, "frequency_penalty"],
    [{ repetition_penalty: 0 }, "repetition_penalty"],
    [{ logit_bias: { "65": 200 } }, "logit_bias[65]"],
    [{ logit_bias: { abc: 1 } }, "logit_bias"],
    [{ seed: 2 ** 60 }, "seed"],
    [{ min_tokens: -1 }, "min_tokens"],
    [{ request_id: "a\r\nx-injected: 1" }, "request_id"],
  ];
  for (const [fields, param] of cases) await expectError("/v1/completions", { prompt: "x", ...fields }, 400, "invalid_parameter", param);
  await expectError("/v1/completions", { prompt: "x", max_tokens: 2, min_tokens: 5 }, 400, "invalid_parameter", "min_tokens");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], top_logprobs: 2 }, 400, "invalid_parameter", "top_logprobs");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], top_logprobs: 21, logprobs: true }, 400, "invalid_parameter", "top_logprobs");
});

test("a body over the limit gets a 413 within seconds, with or without content-length", async () => {
  const big = JSON.stringify({ prompt: "a".repeat(10 * 1024 * 1024) });
  let start = Date.now();
  const sized = await postJson(`${server.url}/v1/completions`, big);
  assert.is(sized.status, 413);
  assertOpenAIError(sized.json, "body_too_large");
  assert.ok(Date.now() - start < 5000);
  start = Date.now();
  const bytes = new TextEncoder().encode(big);
  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 1 << 20) controller.enqueue(bytes.subarray(i, i + (1 << 20)));
      controller.close();
    },
  });
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: chunked, duplex: "half",
  } as RequestInit);
  assert.is(response.status, 413);
  assertOpenAIError(await response.json(), "body_too_large");
  assert.ok(Date.now() - start < 5000);
});

test("invalid UTF-8 is rejected, not replaced", async () => {
  const head = Buffer.from('{"prompt": "abc');
  const tail = Buffer.from('", "max_tokens": 2}');
  for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
    await expectError("/v1/completions", Buffer.concat([head, Buffer.from(bad), tail]), 400, "invalid_encoding");
  }
});

test("an unknown model is a 404", async () => {
  await expectError("/v1/completions", { model: "gpt-9", prompt: "x" }, 404, "model_not_found", "model");
  await expectError("/v1/chat/completions", { model: "gpt-9", messages: [{ role: "user", content: "x" }] }, 404, "model_not_found", "model");
  await expectError("/tokenize", { model: "gpt-9", prompt: "x" }, 404, "model_not_found", "model");
});

test("a prompt longer than max_model_len is a 400 that says so", async () => {
  const maxModelLen = server.engine.maxModelLen;
  // One word per token at least, whatever the tokenizer.
  const words = "hi ".repeat(maxModelLen * 2);
  const long = await expectError("/v1/completions", { prompt: words }, 400, "context_length_exceeded", "prompt");
  assert.match(long.error.message, "max_model_len");
  assert.match(long.error.message, String(maxModelLen));
  await expectError("/v1/completions", { prompt: new Array(maxModelLen).fill(100) }, 400, "context_length_exceeded", "prompt");
  await expectError("/v1/completions", { prompt: [100, 101], max_tokens: maxModelLen }, 400, "context_length_exceeded", "max_tokens");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: words }] }, 400, "context_length_exceeded", "messages");
  const short = { messages: [{ role: "user", content: "z" }], max_completion_tokens: maxModelLen };
  await expectError("/v1/chat/completions", short, 400, "context_length_exceeded", "max_completion_tokens");
  await expectError("/v1/completions", { prompt: "", add_special_tokens: false }, 400, "invalid_parameter", "prompt");
});

test("token ids outside the vocabulary are a 400", async () => {
  const vocabSize = server.engine.tokenizer.vocabSize;
  const json = await expectError("/v1/completions", { prompt: [1, vocabSize + 5] }, 400, "invalid_parameter", "prompt");
  assert.match(json.error.message, String(vocabSize + 5));
  await expectError("/v1/completions", { prompt: [[1], [vocabSize]] }, 400, "invalid_parameter", "prompt");
  await expectError("/v1/completions", { prompt: [-1] }, 400, "invalid_parameter", "prompt");
  await expectError("/v1/completions", { prompt: "x", logit_bias: { [vocabSize]: 1 } }, 400, "invalid_parameter", "logit_bias");
  await expectError("/detokenize", { tokens: [vocabSize] }, 400, "invalid_parameter", "tokens");
});

test("unsupported fields are refused, not ignored", async () => {
  await expectError("/v1/completions", { prompt: "x", suffix: "y" }, 400, "unsupported_parameter", "suffix");
  await expectError("/v1/completions", { prompt: "x", best_of: 3 }, 400, "unsupported_parameter", "best_of");
  await expectError("/v1/completions", { prompt: "x", use_beam_search: true, logprobs: 0 }, 400, "invalid_parameter", "logprobs");
  await expectError("/v1/completions", { prompt: "x", use_beam_search: true, stop: ["y"] }, 400, "invalid_parameter", "stop");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], use_beam_search: true, logprobs: true }, 400, "invalid_parameter", "logprobs");
  await expectError("/v1/completions", { prompt: "x", guided_grammar: "root ::= \"a\"" }, 400, "unsupported_parameter", "guided_grammar");
  await expectError("/v1/completions", { prompt: "x", structured_outputs: { grammar: "root ::= \"a\"" } }, 400, "unsupported_parameter", "structured_outputs.grammar");
  await expectError("/v1/completions", { prompt: "x", response_format: { type: "yaml" } }, 400, "invalid_parameter", "response_format.type");
  await expectError("/v1/completions", { prompt: "x", response_format: { type: "json_schema", json_schema: { name: "x" } } }, 400, "missing_parameter", "response_format.json_schema.schema");
  await expectError("/v1/completions", { prompt: "x", guided_choice: ["a"], response_format: { type: "json_object" } }, 400, "invalid_parameter", "response_format");
  await expectError("/v1/completions", { prompt: "x", guided_choice: [] }, 400, "invalid_parameter", "guided_choice");
  await expectError("/v1/completions", { prompt: "x", use_beam_search: true, guided_choice: ["a"] }, 400, "invalid_parameter", "use_beam_search");
  const both = { messages: [{ role: "assistant", content: "x" }], continue_final_message: true, add_generation_prompt: true };
  await expectError("/v1/chat/completions", both, 400, "invalid_parameter", "continue_final_message");
  await expectError("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], chat_template: "{% for %}" }, 400, "invalid_parameter", "chat_template");
});

test("unknown routes, wrong methods and wrong content types get OpenAI-shaped errors", async () => {
  const missing = await fetch(`${server.url}/v1/engines`);
  assert.is(missing.status, 404);
  assertOpenAIError(await missing.json(), "route_not_found");
  const wrongMethod = await fetch(`${server.url}/v1/completions`);
  assert.is(wrongMethod.status, 404);
  assertOpenAIError(await wrongMethod.json(), "route_not_found");
  const form = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "prompt=x" });
  assert.is(form.status, 415);
  assertOpenAIError(await form.json(), "unsupported_media_type");
});

test("the server is still healthy and idle after all of it", async () => {
  assert.is((await fetch(`${server.url}/health`)).status, 200);
  const { status, json } = await postJson(`${server.url}/v1/completions`, { prompt: "still here", max_tokens: 2 });
  assert.is(status, 200);
  assert.is(json.usage.completion_tokens, 2);
  assert.is(server.engine.stats().numRequestsRunning, 0);
});

test.run();

// vLLM's frontend flags of `serve` (cli/frontend-options.ts) and what they do to a running server:
// --response-role, --enable-log-requests with --max-log-len, --enable-server-load-tracking (GET
// /load) and --root-path.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { parseFlags } from "../../cli/args.ts";
import { frontendFlags, frontendOptions } from "../../cli/frontend-options.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { RequestLogger } from "../../server/request-logger.ts";
import { postJson, startTestServer, waitFor, type TestServer } from "../support/server-harness.ts";

const test = suite("server: frontend flags");
const silent = { info: () => {}, debug: () => {} };
const options = (...argv: string[]) => frontendOptions(parseFlags(argv, frontendFlags).values, silent);

test("without flags: vLLM's defaults", () => {
  const o = options();
  assert.equal(o.cors, { allowedOrigins: ["*"], allowCredentials: false, allowedMethods: ["*"], allowedHeaders: ["*"] });
  assert.is(o.responseRole, "assistant");
  assert.is(o.requestLogger, undefined);
  assert.is(o.enablePromptTokensDetails, false);
  assert.is(o.enableServerLoadTracking, false);
  assert.is(o.rootPath, undefined);
});

test("CORS lists are JSON, as vLLM parses them; anything else names the flag", () => {
  const o = options("--allowed-origins", '["https://a.example","https://b.example"]', "--allow-credentials", "--allowed-methods", '["GET"]');
  assert.equal(o.cors?.allowedOrigins, ["https://a.example", "https://b.example"]);
  assert.is(o.cors?.allowCredentials, true);
  assert.equal(o.cors?.allowedMethods, ["GET"]);
  for (const bad of ["https://a.example", '"*"', "[1]"]) {
    assert.throws(() => options("--allowed-headers", bad), (e: unknown) => e instanceof TsvllmError && e.param === "allowed-headers");
  }
});

test("the other flags reach the server options; --disable-fastapi-docs is accepted", () => {
  const o = options("--response-role", "bot", "--enable-log-requests", "--max-log-len", "10", "--enable-prompt-tokens-details", "--enable-server-load-tracking", "--root-path", "/llm", "--disable-fastapi-docs");
  assert.is(o.responseRole, "bot");
  assert.instance(o.requestLogger, RequestLogger);
  assert.is(o.enablePromptTokensDetails, true);
  assert.is(o.enableServerLoadTracking, true);
  assert.is(o.rootPath, "/llm");
  assert.throws(() => options("--max-log-len", "1.5"), (e: unknown) => e instanceof TsvllmError && e.param === "max-log-len");
});

test("--response-role names the answer after a generation prompt; without one the answer continues the last role", async () => {
  const server = await startTestServer({ server: { responseRole: "bot" } });
  try {
    const messages = [{ role: "user", content: "hi" }];
    const whole = await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2 });
    assert.is(whole.json.choices[0].message.role, "bot");
    const stream = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages, max_tokens: 2, stream: true }) });
    const first = JSON.parse((await stream.text()).split("\n\n")[0].slice("data: ".length));
    assert.is(first.choices[0].delta.role, "bot");
    const continued = await postJson(`${server.url}/v1/chat/completions`, { messages: [...messages, { role: "assistant", content: "Once" }], add_generation_prompt: false, continue_final_message: true, max_tokens: 2 });
    assert.is(continued.json.choices[0].message.role, "assistant");
  } finally {
    await server.close();
  }
});

test("--enable-log-requests logs params at INFO, and the prompt and its ids cut to --max-log-len at DEBUG", async () => {
  const lines: { level: string; message: string }[] = [];
  const sink = { info: (message: string) => lines.push({ level: "info", message }), debug: (message: string) => lines.push({ level: "debug", message }) };
  const server = await startTestServer({ server: { requestLogger: new RequestLogger(sink, 5) } });
  try {
    await postJson(`${server.url}/v1/completions`, { prompt: "abcdefghij", max_tokens: 2, request_id: "req-1" });
    const ids = server.engine.tokenizer.encode("abcdefghij", { addSpecialTokens: true }).slice(0, 5);
    assert.equal(lines, [
      { level: "debug", message: `Request req-1 details: prompt: "abcde", prompt_token_ids: [${ids.join(", ")}], prompt_embeds shape: None.` },
      { level: "info", message: lines[1].message },
    ]);
    assert.match(lines[1].message, /^Received request req-1: params: \{.*"maxTokens":2.*\}, lora_request: None\.$/);
    assert.not.match(lines[1].message, "abcde", "no prompt at INFO");
  } finally {
    await server.close();
  }
});

test("GET /load counts requests in flight with --enable-server-load-tracking, and is 0 without it", async () => {
  const tracked = await startTestServer({ fake: { tokenDelayMs: 20 }, server: { enableServerLoadTracking: true } });
  const untracked = await startTestServer({ fake: { tokenDelayMs: 20 } });
  const load = async (server: TestServer) => ((await (await fetch(`${server.url}/load`)).json()) as { server_load: number }).server_load;
  try {
    const body = { prompt: "hello", max_tokens: 8, ignore_eos: true };
    const streamed = fetch(`${tracked.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) }).then((r) => r.text());
    const running = [postJson(`${tracked.url}/v1/completions`, body), streamed];
    const untrackedRunning = postJson(`${untracked.url}/v1/completions`, body);
    assert.ok(await waitFor(async () => (await load(tracked)) === 2), "both requests counted while served");
    assert.is(await load(untracked), 0);
    await Promise.all([...running, untrackedRunning]);
    assert.ok(await waitFor(async () => (await load(tracked)) === 0), "and uncounted once answered");
  } finally {
    await tracked.close();
    await untracked.close();
  }
});

test("--root-path serves routes under the prefix, and without it", async () => {
  const server = await startTestServer({ server: { rootPath: "/llm/" } });
  try {
    for (const path of ["/llm/health", "/health", "/llm/v1/models?x=1", "/v1/models"]) {
      assert.is((await fetch(`${server.url}${path}`)).status, 200, path);
    }
    assert.is((await fetch(`${server.url}/llmx/health`)).status, 404, "a longer first segment is not under the prefix");
  } finally {
    await server.close();
  }
});

test.run();

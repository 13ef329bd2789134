// LoRA adapters over HTTP, as vLLM serves them: a request's `model` names an adapter (loaded at
// start like --lora-modules, or at run time through /v1/load_lora_adapter when
// VLLM_ALLOW_RUNTIME_LORA_UPDATING is set), /v1/models lists adapters with their parent, and the
// answers equal the offline API's under the same adapter. Tiny random LLaMA, official openai client.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM, LLM } from "../../index.ts";
import { loraModulesFlag } from "../../cli/lora-modules.ts";
import { writeRandomLoraAdapter } from "../../models/random/lora-adapter.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { LoRARequest } from "../../runtime/lora/lora-request.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, metricValue, postJson, waitFor } from "../support/server-harness.ts";

const test = suite("LoRA adapters in the server");
const dir = mkdtempSync(join(tmpdir(), "tsvllm-lora-server-"));
const baseModel = writeRandomModel({ arch: "llama", outDir: join(dir, "base"), seed: 5, dtype: "f32" });
const adapterDirs = [0, 1, 2].map((seed) => writeRandomLoraAdapter({ outDir: join(dir, `adapter-${seed}`), config: baseModel.config, rank: 8, alpha: 16, seed, bStd: 0.1 }));
const engineOptions = { model: baseModel.hfDir, enableLora: true, maxLoras: 2, maxLoraRank: 8, maxNumSeqs: 8, maxNumBatchedTokens: 128, maxModelLen: 256, logger: () => {} };
let engine: AsyncLLM;
let offline: LLM;
let app: ReturnType<typeof createServer>;
let base: string;
let client: OpenAI;

test.before(async () => {
  engine = await AsyncLLM.create(engineOptions);
  for (const request of loraModulesFlag([`sql=${adapterDirs[0]}`, JSON.stringify({ name: "chat", path: adapterDirs[1] })], true)) await engine.lora!.addLora(request);
  offline = await LLM.create(engineOptions);
  app = createServer({ engine, servedModelName: ["tiny"], runtimeLoraUpdating: true });
  ({ base, client } = await listenWithClient(app));
});
test.after(async () => {
  await app?.close();
  await engine?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const greedy = { prompt: "Once upon a time", max_tokens: 16, temperature: 0 };
const offlineText = async (lora: LoRARequest | null) => (await offline.generate(greedy.prompt, { temperature: 0, maxTokens: 16 }, { loraRequest: lora }))[0].outputs[0].text;

test("/v1/models lists the base model and each adapter with its parent", async () => {
  const models = await client.models.list();
  const entries = models.data.map((m) => ({ id: m.id, root: (m as unknown as { root: string }).root, parent: (m as unknown as { parent: string | null }).parent }));
  assert.equal(entries.slice(1), [{ id: "sql", root: adapterDirs[0], parent: "tiny" }, { id: "chat", root: adapterDirs[1], parent: "tiny" }]);
  assert.is(entries[0].parent, null);
});

test("a request naming an adapter gets the offline answer under it, whole and streamed; the base name gets the base model's", async () => {
  const [sql, chat, plain] = await Promise.all([
    client.completions.create({ model: "sql", ...greedy }),
    client.completions.create({ model: "chat", ...greedy }),
    client.completions.create({ model: "tiny", ...greedy }),
  ]);
  assert.is(sql.choices[0].text, await offlineText(new LoRARequest("sql", 1, adapterDirs[0])));
  assert.is(chat.choices[0].text, await offlineText(new LoRARequest("chat", 2, adapterDirs[1])));
  assert.is(plain.choices[0].text, await offlineText(null));
  assert.is.not(sql.choices[0].text, plain.choices[0].text);
  assert.is(sql.model, "sql");
  let streamed = "";
  for await (const chunk of await client.completions.create({ model: "sql", ...greedy, stream: true })) streamed += chunk.choices[0]?.text ?? "";
  assert.is(streamed, sql.choices[0].text);
  const chatAnswer = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "Hi" }], max_tokens: 8, temperature: 0 });
  assert.is(chatAnswer.model, "chat");
});

test("vllm:lora_requests_info names the adapters of running requests", async () => {
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  assert.ok(metricValue(await metrics(), "vllm:lora_requests_info", { max_lora: "2", running_lora_adapters: "", waiting_lora_adapters: "" })! > 0);
  const stream = await client.completions.create({ model: "sql", prompt: "Once upon a time", max_tokens: 200, temperature: 0, stream: true, ...({ ignore_eos: true } as object) });
  for await (const _ of stream) {
    assert.ok(metricValue(await metrics(), "vllm:lora_requests_info", { max_lora: "2", running_lora_adapters: "sql" })! > 0);
    break;
  }
  assert.ok(await waitFor(() => engine.stats().numRequestsRunning === 0));
});

test("an unknown model is a 404 that lists the adapters", async () => {
  const { status, json } = await postJson(`${base}/v1/completions`, { model: "nope", ...greedy });
  assert.is(status, 404);
  assert.match(json.error.message, /tiny, sql, chat/);
});

test("adapters load and unload at run time; bad ones get a 400 and change nothing", async () => {
  const loaded = await fetch(`${base}/v1/load_lora_adapter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lora_name: "late", lora_path: adapterDirs[2] }) });
  assert.is(loaded.status, 200);
  assert.match(await loaded.text(), /Success: LoRA adapter 'late' added/);
  const late = await client.completions.create({ model: "late", ...greedy });
  assert.is(late.choices[0].text, await offlineText(new LoRARequest("late", 3, adapterDirs[2])));
  assert.is((await postJson(`${base}/v1/load_lora_adapter`, { lora_name: "late", lora_path: adapterDirs[2] })).status, 400);
  const missing = await postJson(`${base}/v1/load_lora_adapter`, { lora_name: "ghost", lora_path: join(dir, "nowhere") });
  assert.is(missing.status, 400);
  assert.match(missing.json.error.message, /adapter_config\.json/);
  assert.is((await postJson(`${base}/v1/load_lora_adapter`, { lora_name: "x" })).status, 400);
  const unloaded = await fetch(`${base}/v1/unload_lora_adapter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lora_name: "late" }) });
  assert.is(unloaded.status, 200);
  assert.is((await postJson(`${base}/v1/completions`, { model: "late", ...greedy })).status, 404);
  assert.is((await postJson(`${base}/v1/unload_lora_adapter`, { lora_name: "late" })).status, 404);
  assert.equal((await client.models.list()).data.map((m) => m.id), ["tiny", "sql", "chat"]);
});

test("without VLLM_ALLOW_RUNTIME_LORA_UPDATING there are no load/unload routes", async () => {
  const locked = createServer({ engine, servedModelName: ["tiny"], runtimeLoraUpdating: false });
  const response = await locked.inject({ method: "POST", url: "/v1/load_lora_adapter", payload: { lora_name: "a", lora_path: adapterDirs[2] } });
  assert.is(response.statusCode, 404);
  await locked.close();
});

test("--lora-modules: name=path or JSON, numbered in order; refused without --enable-lora or when malformed", () => {
  assert.equal(loraModulesFlag(["a=/x", '{"name": "b", "path": "/y"}'], true).map((r) => [r.loraName, r.loraIntId, r.loraPath]), [["a", 1, "/x"], ["b", 2, "/y"]]);
  for (const [values, enable] of [[["a=/x"], false], [["nopath"], true], [["=/x"], true], [['{"name": "a"}'], true], [["a=/x", "a=/y"], true]] as const) {
    assert.throws(() => loraModulesFlag(values, enable), (e: unknown) => e instanceof TsvllmError && e.param === "lora-modules");
  }
});

test.run();

// Hub ids resolve through the local Hugging Face cache layout; offline mode refuses to download; a
// download (here from a local stand-in for huggingface.co) resumes a partial file with a Range request.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { cachedSnapshot, hubCacheDir, resolveHubModel } from "../../runtime/loader/hub.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const source = "/work/shared/models/stories260K-hf";
const files = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"];
const sha = "0123456789abcdef0123456789abcdef01234567";
const tempDir = useTempDir(test, "tsvllm-hub-");

async function fakeCache(cache: string, id: string): Promise<string> {
  const repo = join(cache, `models--${id.replace("/", "--")}`);
  const snapshot = join(repo, "snapshots", sha);
  await mkdir(snapshot, { recursive: true });
  await mkdir(join(repo, "refs"), { recursive: true });
  await writeFile(join(repo, "refs", "main"), `${sha}\n`);
  for (const file of files) await copyFile(join(source, file), join(snapshot, file));
  return snapshot;
}

test("the cache folder follows HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub", () => {
  assert.is(hubCacheDir({ HF_HUB_CACHE: "/a", HF_HOME: "/b" }), "/a");
  assert.is(hubCacheDir({ HF_HOME: "/b" }), "/b/hub");
  assert.match(hubCacheDir({}), /\.cache\/huggingface\/hub$/);
});

test("a cached model resolves through refs/main to its snapshot, and loads by id", async () => {
  const cache = join(tempDir(), "cache");
  const snapshot = await fakeCache(cache, "tiny-org/stories");
  assert.is(await cachedSnapshot("tiny-org/stories", "main", { HF_HUB_CACHE: cache }), snapshot);
  assert.is(await cachedSnapshot("tiny-org/other", "main", { HF_HUB_CACHE: cache }), null);
  assert.is(await resolveHubModel("tiny-org/stories", { env: { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" } }), snapshot);
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    const model = await loadModel("tiny-org/stories");
    assert.is(model.source, snapshot);
    assert.is(model.config.architecture, "LlamaForCausalLM");
    assert.is(model.tensors.size, 47);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved;
  }
});

test("offline and not cached: a model-file error that says so", async () => {
  try {
    await resolveHubModel("tiny-org/missing", { env: { HF_HUB_CACHE: join(tempDir(), "empty"), HF_HUB_OFFLINE: "1" } });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_MODEL_FILE");
    assert.match((error as TsvllmError).message, "tiny-org/missing: not in the Hugging Face cache");
    assert.match((error as TsvllmError).message, "HF_HUB_OFFLINE is set");
  }
});

test("a download fills the cache layout and resumes a partial file with a Range request", async () => {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer(async (request, response) => {
    requests.push({ url: request.url ?? "", headers: request.headers });
    if (request.url === "/api/models/tiny-org/remote/revision/main") {
      const siblings = [...files, "README.md", "pytorch_model.bin"].map((rfilename) => ({ rfilename }));
      response.end(JSON.stringify({ sha, siblings }));
      return;
    }
    const prefix = `/tiny-org/remote/resolve/${sha}/`;
    const file = request.url?.startsWith(prefix) ? request.url.slice(prefix.length) : "";
    if (!files.includes(file)) {
      response.writeHead(404).end();
      return;
    }
    const body = await readFile(join(source, file));
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    response.writeHead(range ? 206 : 200, { "content-length": body.length - start });
    response.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cache = join(tempDir(), "download");
  const snapshot = join(cache, "models--tiny-org--remote", "snapshots", sha);
  try {
    const weights = await readFile(join(source, "model.safetensors"));
    await mkdir(snapshot, { recursive: true });
    await writeFile(join(snapshot, "model.safetensors.incomplete"), weights.subarray(0, 1000));
    const resolved = await resolveHubModel("tiny-org/remote", { env: { HF_HUB_CACHE: cache, HF_ENDPOINT: endpoint, HF_TOKEN: "hf_test" } });
    assert.is(resolved, snapshot);
    for (const file of files) assert.ok((await readFile(join(snapshot, file))).equals(await readFile(join(source, file))), file);
    assert.is((await readFile(join(cache, "models--tiny-org--remote", "refs", "main"), "utf8")).trim(), sha);
    const weightsRequest = requests.find((r) => r.url.endsWith("/model.safetensors"));
    assert.is(weightsRequest?.headers.range, "bytes=1000-");
    assert.ok(requests.every((r) => r.headers.authorization === "Bearer hf_test"));
    assert.not.ok(requests.some((r) => r.url.endsWith(".bin") || r.url.endsWith("README.md")), "only the files a model needs");
  } finally {
    server.close();
  }
});

test.run();

// vLLM's checkpoint choices at the loader: hf_overrides replace config.json keys before parsing (and
// are refused for a GGUF file, which has no config.json), revision and download_dir pick the hub
// snapshot, and a hub --tokenizer downloads the tokenizer files alone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:http";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { readHfConfig } from "../../runtime/loader/hf-config.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { tokenizerFolder } from "../../runtime/tokenizer/index.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const hf = "/work/shared/models/stories260K-hf";
const gguf = "/work/shared/models/stories260K/stories260K.gguf";
const sha = "89abcdef0123456789abcdef0123456789abcdef";
const tempDir = useTempDir(test, "tsvllm-checkpoint-");

test("hfOverrides replace config.json's keys before parsing; the rest is the file's", async () => {
  const { config } = await readHfConfig(hf, { max_position_embeddings: 128, rope_theta: 500000 });
  assert.is(config.maxPositionEmbeddings, 128);
  assert.is(config.ropeTheta, 500000);
  assert.is(config.hiddenSize, 64);
  assert.is((await readHfConfig(hf)).config.maxPositionEmbeddings, 512);
});

test("hfOverrides on a GGUF file are refused, naming hfOverrides", async () => {
  try {
    await loadModel(gguf, { hfOverrides: { max_position_embeddings: 128 } });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).param, "hfOverrides");
  }
});

test("revision and downloadDir pick the snapshot a hub id loads from", async () => {
  const downloadDir = join(tempDir(), "downloads");
  const repo = join(downloadDir, "models--tiny-org--stories");
  await mkdir(join(repo, "snapshots", sha), { recursive: true });
  await mkdir(join(repo, "refs"), { recursive: true });
  await writeFile(join(repo, "refs", "v1"), sha);
  for (const file of ["config.json", "model.safetensors"]) await copyFile(join(hf, file), join(repo, "snapshots", sha, file));
  const saved = process.env.HF_HUB_OFFLINE;
  process.env.HF_HUB_OFFLINE = "1";
  try {
    const model = await loadModel("tiny-org/stories", { revision: "v1", downloadDir, hfOverrides: { max_position_embeddings: 64 } });
    assert.is(model.source, join(repo, "snapshots", sha));
    assert.is(model.config.maxPositionEmbeddings, 64);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = saved;
  }
});

test("a hub tokenizer downloads its tokenizer files alone, at tokenizerRevision, into downloadDir; a folder is used as it is", async () => {
  const requested: string[] = [];
  const server = createServer((request, response) => {
    requested.push(request.url ?? "");
    if (request.url === "/api/models/tiny-org/tok/revision/v2") {
      const siblings = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].map((rfilename) => ({ rfilename }));
      response.end(JSON.stringify({ sha, siblings }));
      return;
    }
    const file = (request.url ?? "").replace(`/tiny-org/tok/resolve/${sha}/`, "");
    response.end(JSON.stringify({ file }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const saved = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const downloadDir = join(tempDir(), "tok");
    const folder = await tokenizerFolder("tiny-org/tok", { revision: "v2", downloadDir });
    assert.is(folder, join(downloadDir, "models--tiny-org--tok", "snapshots", sha));
    assert.equal((await readdir(folder)).sort(), ["tokenizer.json", "tokenizer_config.json"]);
    assert.equal(requested.slice(1).sort(), [`/tiny-org/tok/resolve/${sha}/tokenizer.json`, `/tiny-org/tok/resolve/${sha}/tokenizer_config.json`]);
  } finally {
    server.close();
    if (saved === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = saved;
  }
  assert.is(await tokenizerFolder(hf), hf);
});

test.run();

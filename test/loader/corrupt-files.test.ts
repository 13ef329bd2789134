// Broken model files fail with TSVLLM_ERR_MODEL_FILE and a message that names the file and what is
// wrong. The broken copies are written to the OS temp folder.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadGguf } from "../../runtime/loader/gguf.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadSafetensorsFile } from "../../runtime/loader/safetensors.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const safetensorsPath = "/work/shared/models/stories260K-hf/model.safetensors";
const ggufPath = "/work/shared/models/stories260K/stories260K.gguf";
const tempDir = useTempDir(test, "tsvllm-loader-");

async function modelFileError(load: () => Promise<unknown>): Promise<TsvllmError> {
  try {
    await load();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_MODEL_FILE");
    return error as TsvllmError;
  }
  throw new Error("expected the load to fail");
}

function headerOf(bytes: Buffer): { length: number; json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { length, json: JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")) };
}

/** The file with its header replaced by `json`, padded with spaces to the original length. */
function withHeader(bytes: Buffer, json: unknown): Buffer {
  const { length } = headerOf(bytes);
  const header = Buffer.alloc(length, " ");
  assert.ok(header.write(JSON.stringify(json)) <= length);
  return Buffer.concat([bytes.subarray(0, 8), header, bytes.subarray(8 + length)]);
}

test("safetensors: a header that is not JSON", async () => {
  const bytes = Buffer.from(await readFile(safetensorsPath));
  bytes[8] = "X".charCodeAt(0);
  const path = join(tempDir(), "bad-json.safetensors");
  await writeFile(path, bytes);
  const error = await modelFileError(() => loadSafetensorsFile(path, new Map()));
  assert.match(error.message, path);
  assert.match(error.message, "header is not valid UTF-8 JSON");
});

test("safetensors: a header length past the end of the file", async () => {
  const bytes = Buffer.from(await readFile(safetensorsPath));
  bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
  const path = join(tempDir(), "bad-length.safetensors");
  await writeFile(path, bytes);
  const error = await modelFileError(() => loadSafetensorsFile(path, new Map()));
  assert.is(error.message, `${path}: header length ${bytes.length} exceeds file size ${bytes.length}`);
});

test("safetensors: a tensor whose data_offsets run past the end of the file", async () => {
  const bytes = Buffer.from(await readFile(safetensorsPath));
  const { length, json } = headerOf(bytes);
  const name = "model.norm.weight";
  const [begin] = json[name].data_offsets;
  const dataSize = bytes.length - 8 - length;
  json[name].data_offsets = [begin + dataSize, begin + dataSize + 256];
  const path = join(tempDir(), "out-of-bounds.safetensors");
  await writeFile(path, withHeader(bytes, json));
  const error = await modelFileError(() => loadSafetensorsFile(path, new Map()));
  assert.is(error.param, name);
  assert.match(error.message, `${path}: tensor "${name}" data_offsets [${begin + dataSize},${begin + dataSize + 256}] exceed file size ${bytes.length}`);
});

test("safetensors: data_offsets that disagree with dtype and shape", async () => {
  const bytes = Buffer.from(await readFile(safetensorsPath));
  const { json } = headerOf(bytes);
  json["model.norm.weight"].shape = [65];
  const path = join(tempDir(), "bad-size.safetensors");
  await writeFile(path, withHeader(bytes, json));
  const error = await modelFileError(() => loadSafetensorsFile(path, new Map()));
  assert.match(error.message, `${path}: tensor "model.norm.weight" data_offsets`);
  assert.match(error.message, "hold 256 bytes but F32 [65] needs 260");
});

test("gguf: truncated inside the metadata", async () => {
  const bytes = await readFile(ggufPath);
  const path = join(tempDir(), "truncated-header.gguf");
  await writeFile(path, bytes.subarray(0, 5000));
  const error = await modelFileError(() => loadGguf(path));
  assert.match(error.message, `${path}: truncated: metadata "tokenizer.ggml.`);
  assert.match(error.message, "but the file has 5000 bytes");
});

test("gguf: truncated inside the tensor data", async () => {
  const bytes = await readFile(ggufPath);
  const path = join(tempDir(), "truncated-data.gguf");
  await writeFile(path, bytes.subarray(0, bytes.length - 1000));
  const error = await modelFileError(() => loadModel(path));
  assert.match(error.message, `${path}: tensor "`);
  assert.match(error.message, `exceeds file size ${bytes.length - 1000}`);
});

test("gguf: a file that is not GGUF (bad magic) or is empty", async () => {
  const bytes = Buffer.from(await readFile(ggufPath));
  bytes.write("GGML", 0);
  const path = join(tempDir(), "bad-magic.gguf");
  await writeFile(path, bytes);
  const error = await modelFileError(() => loadGguf(path));
  assert.match(error.message, `${path}: bad magic 0x4c4d4747`);
  const empty = join(tempDir(), "empty.gguf");
  await writeFile(empty, new Uint8Array(0));
  assert.match((await modelFileError(() => loadGguf(empty))).message, `${empty}: truncated: magic`);
});

test("missing files and folders name the path", async () => {
  const missing = join(tempDir(), "nope.gguf");
  assert.match((await modelFileError(() => loadGguf(missing))).message, `${missing}: cannot open (ENOENT)`);
  assert.match((await modelFileError(() => loadModel(tempDir()))).message, `${join(tempDir(), "config.json")}: file not found`);
  assert.match((await modelFileError(() => loadModel("./not/a/model"))).message, "./not/a/model: not found");
});

test.run();

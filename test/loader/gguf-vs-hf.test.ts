// The same model as a GGUF file and as a Hugging Face folder (stories260K-hf was derived from
// stories260K.gguf, see its PROVENANCE.md) loads to the same config and bit-identical tensors once the
// GGUF converter's q/k row permutation is undone.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile } from "node:fs/promises";
import { readGgufHeader } from "../../runtime/loader/gguf-reader.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";

let gguf: LoadedModel;
let hf: LoadedModel;

test.before(async () => {
  gguf = await loadModel("/work/shared/models/stories260K/stories260K.gguf");
  hf = await loadModel("/work/shared/models/stories260K-hf");
});

test("both load as LlamaForCausalLM with the same config", () => {
  assert.is(gguf.format, "gguf");
  assert.is(hf.format, "hf");
  // The GGUF metadata says context 2048; the model was trained at 512, which config.json states.
  assert.is(gguf.config.maxPositionEmbeddings, 2048);
  assert.is(hf.config.maxPositionEmbeddings, 512);
  assert.equal({ ...gguf.config, maxPositionEmbeddings: 512 }, hf.config);
  assert.equal(gguf.generationConfig, hf.generationConfig);
  assert.equal(hf.config.eosTokenIds, [2]);
  assert.is(hf.config.rmsNormEps, 1e-5);
});

test("the GGUF's output.weight, identical to token_embd.weight, is a tied embedding", () => {
  assert.ok(gguf.config.tieWordEmbeddings);
  assert.not.ok(gguf.tensors.has("lm_head.weight"));
});

test("every tensor has the same name, shape, dtype and values (max |diff| 0)", () => {
  assert.is(gguf.tensors.size, hf.tensors.size);
  assert.is(hf.tensors.size, 2 + 5 * 9);
  for (const [name, expected] of hf.tensors) {
    const actual = gguf.tensors.get(name);
    assert.ok(actual, `GGUF has ${name}`);
    assert.equal(actual!.shape, expected.shape, name);
    assert.is(actual!.dtype, "f32");
    assert.is(expected.dtype, "f32");
    let maxDiff = 0;
    for (let i = 0; i < expected.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual!.data[i] - expected.data[i]));
    assert.is(maxDiff, 0, name);
  }
  assert.equal(hf.tensors.get("model.layers.0.self_attn.q_proj.weight")!.shape, [64, 64]);
  assert.equal(hf.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape, [32, 64]);
  assert.equal(hf.tensors.get("model.layers.0.mlp.gate_proj.weight")!.shape, [172, 64]);
});

test("q/k rows are the GGUF rows un-permuted per head", async () => {
  const path = "/work/shared/models/stories260K/stories260K.gguf";
  const header = await readGgufHeader(path);
  const info = header.tensors.find((t) => t.name === "blk.0.attn_q.weight")!;
  const bytes = await readFile(path);
  const begin = bytes.byteOffset + header.dataOffset + info.offset;
  const raw = new Float32Array(bytes.buffer.slice(begin, begin + 64 * 64 * 4));
  const q = gguf.tensors.get("model.layers.0.self_attn.q_proj.weight")!.data;
  const row = (data: ArrayLike<number>, r: number): number[] => Array.from(data).slice(r * 64, (r + 1) * 64);
  // head_dim 8: GGUF row 2*i + j is HF row j*4 + i, so HF row 1 = GGUF row 2 and HF row 4 = GGUF row 1.
  assert.equal(row(q, 0), row(raw, 0));
  assert.equal(row(q, 1), row(raw, 2));
  assert.equal(row(q, 4), row(raw, 1));
  assert.equal(row(q, 8 + 5), row(raw, 8 + 3));
});

test("llama-2-tiny-random: F16 matrices stay raw f16 bits, norms f32, shapes reversed", async () => {
  const model = await loadModel("/work/shared/models/llama-2-tiny-random/llama-2-tiny-random.gguf");
  const embedding = model.tensors.get("model.embed_tokens.weight")!;
  assert.is(embedding.dtype, "f16");
  assert.instance(embedding.data, Uint16Array);
  assert.equal(embedding.shape, [32000, 8]);
  assert.is(model.tensors.get("model.norm.weight")!.dtype, "f32");
  assert.is(model.config.torchDtype, "float16");
  assert.is(model.config.headDim, 4);
  assert.is(model.config.vocabSize, 32000);
  assert.ok(model.tensors.has("lm_head.weight"), "a separate output.weight is kept");
  assert.not.ok(model.config.tieWordEmbeddings);
});

test.run();

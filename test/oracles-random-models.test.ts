// Random-weight models of every architecture: the HF checkpoint parses back, the GGUF holds the same
// weights under llama.cpp's conventions, and llama.cpp itself loads the GGUF and gives sane
// next-token distributions. (That llama.cpp's outputs equal an HF-semantics forward pass of the
// safetensors weights is checked by the parity suites that use these models.)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { archNames, writeRandomModel, type ArchName, type RandomModel } from "../models/random/write-random-model.ts";
import { openOracle } from "./oracles/llamacpp.ts";
import { readGgufTensors, readSafetensors, type DecodedTensor } from "./support/random-model-files.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-random-models-"));
const vocabSize = 512;
/** BOS + "Once upon a time, there was a little girl named Lily. She" in the stories260K vocab. */
const storyIds = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426];

const written = new Map<string, RandomModel>();
function tinyModel(arch: ArchName, dtype: "f32" | "f16" = "f32", seed = 1): RandomModel {
  const key = `${arch}-${dtype}-${seed}`;
  if (!written.has(key)) written.set(key, writeRandomModel({ arch, outDir: join(workDir, key), dtype, seed }));
  return written.get(key)!;
}

function tensor(tensors: Map<string, DecodedTensor>, name: string): DecodedTensor {
  const found = tensors.get(name);
  if (found === undefined) throw new Error(`no tensor ${name} among ${[...tensors.keys()].join(", ")}`);
  return found;
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));

for (const arch of archNames) {
  test(`${arch}: config.json names the HF class and the safetensors checkpoint parses back`, () => {
    const model = tinyModel(arch);
    const config = JSON.parse(readFileSync(join(model.hfDir, "config.json"), "utf8"));
    // Gemma-3's text-only config is model_type gemma3_text ("gemma3" is the multimodal one).
    assert.is(config.model_type, arch === "gemma3" ? "gemma3_text" : arch);
    assert.is(config.vocab_size, vocabSize);
    assert.ok(/ForCausalLM$/.test(config.architectures[0]));
    const tensors = readSafetensors(join(model.hfDir, "model.safetensors"));
    assert.equal(tensor(tensors, "model.embed_tokens.weight").shape, [vocabSize, 64]);
    assert.is(tensors.has("lm_head.weight"), !config.tie_word_embeddings);
    for (const [name, { values }] of tensors) assert.ok(values.every(Number.isFinite), `${name} is finite`);
  });

  test(`${arch}: llama.cpp loads the GGUF and gives non-uniform next-token distributions`, async () => {
    const oracle = await openOracle(tinyModel(arch).ggufPath!, { contextSize: 256 });
    try {
      assert.is(oracle.vocabSize, vocabSize);
      const distributions = await oracle.nextTokenDistributions(storyIds);
      assert.is(distributions.length, storyIds.length);
      let maxProbability = 0;
      for (const distribution of distributions) {
        let sum = 0;
        for (const p of distribution) {
          assert.ok(Number.isFinite(p));
          sum += p;
          maxProbability = Math.max(maxProbability, p);
        }
        assert.ok(Math.abs(sum - 1) < 1e-4, `sum ${sum}`);
      }
      assert.ok(maxProbability > 2 / vocabSize, `max probability ${maxProbability}`);
    } finally {
      await oracle.dispose();
    }
  });
}

test("llama GGUF: same embedding, v and head; q rows interleaved per head for adjacent-pair RoPE", async () => {
  const model = tinyModel("llama");
  const hf = readSafetensors(join(model.hfDir, "model.safetensors"));
  const gguf = await readGgufTensors(model.ggufPath!);
  assert.equal(tensor(gguf, "token_embd.weight").values, tensor(hf, "model.embed_tokens.weight").values);
  assert.equal(tensor(gguf, "blk.0.attn_v.weight").values, tensor(hf, "model.layers.0.self_attn.v_proj.weight").values);
  assert.equal(tensor(gguf, "output.weight").values, tensor(hf, "lm_head.weight").values);
  const q = tensor(hf, "model.layers.0.self_attn.q_proj.weight");
  const permuted = tensor(gguf, "blk.0.attn_q.weight");
  assert.equal(permuted.shape, [64, 64]);
  const [headDim, columns] = [16, 64];
  const row = (values: Float32Array, index: number) => Array.from(values.subarray(index * columns, (index + 1) * columns));
  for (let head = 0; head < 4; head++) {
    for (let i = 0; i < headDim / 2; i++) {
      assert.equal(row(permuted.values, head * headDim + 2 * i), row(q.values, head * headDim + i));
      assert.equal(row(permuted.values, head * headDim + 2 * i + 1), row(q.values, head * headDim + headDim / 2 + i));
    }
  }
});

test("mixtral GGUF: each projection's experts are one tensor, expert e's rows at index e; an f16 file keeps its routers F32", async () => {
  const model = tinyModel("mixtral");
  const hf = readSafetensors(join(model.hfDir, "model.safetensors"));
  const gguf = await readGgufTensors(model.ggufPath!);
  const gate = tensor(gguf, "blk.0.ffn_gate_exps.weight");
  // ggml order [hidden, intermediate, experts]: HF [4 experts, 128, 64].
  assert.equal(gate.shape, [64, 128, 4]);
  const experts = [0, 1, 2, 3].map((e) => tensor(hf, `model.layers.0.block_sparse_moe.experts.${e}.w1.weight`));
  assert.ok(experts.every((expert) => expert.shape.join() === "128,64"));
  assert.equal(gate.values, Float32Array.from(experts.flatMap((expert) => Array.from(expert.values))));
  assert.equal(tensor(gguf, "blk.1.ffn_gate_inp.weight").values, tensor(hf, "model.layers.1.block_sparse_moe.gate.weight").values);
  const f16 = await readGgufTensors(tinyModel("mixtral", "f16").ggufPath!);
  assert.is(tensor(f16, "blk.0.ffn_down_exps.weight").dtype, "F16");
  assert.is(tensor(f16, "blk.0.ffn_gate_inp.weight").dtype, "F32");
});

test("qwen2_moe GGUF: the shared-expert gate is HF's [1, hidden] as the converter keeps it (ne [hidden, 1]), F32 in an f16 file too", async () => {
  const model = tinyModel("qwen2_moe");
  const hf = readSafetensors(join(model.hfDir, "model.safetensors"));
  const gguf = await readGgufTensors(model.ggufPath!);
  const gate = tensor(gguf, "blk.0.ffn_gate_inp_shexp.weight");
  assert.equal([gate.shape, tensor(hf, "model.layers.0.mlp.shared_expert_gate.weight").shape], [[64, 1], [1, 64]]);
  assert.equal(gate.values, tensor(hf, "model.layers.0.mlp.shared_expert_gate.weight").values);
  assert.equal(tensor(gguf, "blk.1.ffn_down_shexp.weight").values, tensor(hf, "model.layers.1.mlp.shared_expert.down_proj.weight").values);
  const f16 = await readGgufTensors(tinyModel("qwen2_moe", "f16").ggufPath!);
  assert.is(tensor(f16, "blk.0.ffn_up_shexp.weight").dtype, "F16");
  assert.is(tensor(f16, "blk.0.ffn_gate_inp_shexp.weight").dtype, "F32");
});

test("gemma GGUF: norms are stored as 1 + w, head_dim 32 differs from hidden/heads", async () => {
  const model = tinyModel("gemma");
  assert.is(model.config.head_dim, 32);
  const hf = readSafetensors(join(model.hfDir, "model.safetensors"));
  const gguf = await readGgufTensors(model.ggufPath!);
  const offset = tensor(hf, "model.layers.1.input_layernorm.weight").values;
  assert.equal(tensor(gguf, "blk.1.attn_norm.weight").values, offset.map((w) => Math.fround(w + 1)));
  assert.equal(tensor(gguf, "blk.0.attn_q.weight").shape, [64, 128]);
  assert.not.ok(gguf.has("output.weight"));
});

test("phi3 GGUF keeps qkv_proj and gate_up_proj fused; qwen2 keeps the q/k/v biases", async () => {
  const phi3 = tinyModel("phi3");
  const phi3Hf = readSafetensors(join(phi3.hfDir, "model.safetensors"));
  const phi3Gguf = await readGgufTensors(phi3.ggufPath!);
  assert.equal(tensor(phi3Gguf, "blk.0.attn_qkv.weight").values, tensor(phi3Hf, "model.layers.0.self_attn.qkv_proj.weight").values);
  assert.equal(tensor(phi3Gguf, "blk.0.ffn_up.weight").shape, [64, 256]);
  assert.equal(tensor(phi3Gguf, "blk.0.ffn_up.weight").values, tensor(phi3Hf, "model.layers.0.mlp.gate_up_proj.weight").values);
  const qwen2 = tinyModel("qwen2");
  const qwen2Hf = readSafetensors(join(qwen2.hfDir, "model.safetensors"));
  const qwen2Gguf = await readGgufTensors(qwen2.ggufPath!);
  assert.equal(tensor(qwen2Gguf, "blk.1.attn_k.bias").values, tensor(qwen2Hf, "model.layers.1.self_attn.k_proj.bias").values);
});

test("an f16 checkpoint gives a GGUF with the same f16 matrices and f32 norms", async () => {
  const model = tinyModel("qwen3", "f16");
  const hf = readSafetensors(join(model.hfDir, "model.safetensors"));
  const gguf = await readGgufTensors(model.ggufPath!);
  assert.is(tensor(hf, "model.layers.0.mlp.down_proj.weight").dtype, "F16");
  const down = tensor(gguf, "blk.0.ffn_down.weight");
  assert.is(down.dtype, "F16");
  assert.equal(down.values, tensor(hf, "model.layers.0.mlp.down_proj.weight").values);
  const qNorm = tensor(gguf, "blk.0.attn_q_norm.weight");
  assert.is(qNorm.dtype, "F32");
  assert.equal(qNorm.values, tensor(hf, "model.layers.0.self_attn.q_norm.weight").values);
});

test("the same seed writes identical weights, another seed different ones", () => {
  const read = (model: RandomModel) => readFileSync(join(model.hfDir, "model.safetensors"));
  const first = read(tinyModel("mistral", "f32", 5));
  const again = read(writeRandomModel({ arch: "mistral", outDir: join(workDir, "mistral-again"), seed: 5 }));
  assert.ok(first.equals(again));
  assert.not.ok(first.equals(read(tinyModel("mistral", "f32", 6))));
});

test.run();

// Sparse MoE GGUF files (Mixtral as llama.cpp's "llama" with experts, Qwen2-MoE as "qwen2moe", Qwen3-MoE
// as "qwen3moe"), written by the random model writer as llama.cpp's converter would: each loads to the
// config of its HF folder, and each projection's experts, one 3-D tensor in the file, load as the HF
// folder's per-expert matrices stacked ([experts, out, in], expert e's rows at index e), in Q8_0 blocks
// too. Qwen2-MoE's shared expert and its gate load as the HF folder's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { quantizeRows } from "../../models/random/gguf-quantize.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { dequantizeQ8_0 } from "../../runtime/loader/gguf-quants.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import type { LoadedModel, LoadedTensor } from "../../runtime/loader/types.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const tempDir = useTempDir(test, "tsvllm-gguf-moe-");

function tensor(model: LoadedModel, name: string): LoadedTensor {
  const found = model.tensors.get(name);
  assert.ok(found, `${model.format} has ${name}`);
  return found!;
}

/** The HF folder's experts of one projection, concatenated in expert order. */
function stackedExperts(hf: LoadedModel, expertName: (e: number) => string, numExperts: number): Float32Array {
  const experts = Array.from({ length: numExperts }, (_, e) => tensorToF32(tensor(hf, expertName(e))));
  const stacked = new Float32Array(experts.reduce((n, values) => n + values.length, 0));
  experts.reduce((offset, values) => (stacked.set(values, offset), offset + values.length), 0);
  return stacked;
}

/** Where each family keeps its router (`<moe>.gate`) and experts (the projections gate, up, down), and how the tiny shape routes. */
const families = {
  mixtral: { moe: "block_sparse_moe", projections: ["w1", "w3", "w2"], routing: { intermediateSize: 128, normTopkProb: true } },
  qwen2_moe: { moe: "mlp", projections: ["gate_proj", "up_proj", "down_proj"], routing: { intermediateSize: 64, normTopkProb: false, sharedExpertIntermediateSize: 96 } },
  qwen3_moe: { moe: "mlp", projections: ["gate_proj", "up_proj", "down_proj"], routing: { intermediateSize: 64, normTopkProb: true } },
} as const;

for (const [arch, names] of Object.entries(families)) {
  test(`${arch}: the GGUF loads to the HF folder's config and its stacked experts are the HF experts in order`, async () => {
    const model = writeRandomModel({ arch: arch as keyof typeof families, outDir: join(tempDir(), arch), seed: 3 });
    const [gguf, hf] = [await loadModel(model.ggufPath!), await loadModel(model.hfDir)];
    assert.equal(gguf.config, hf.config);
    const moe = hf.config.moe!;
    assert.equal(moe, { numExperts: 4, numExpertsPerTok: 2, ...names.routing });
    const { hiddenSize: H, numHiddenLayers: layers } = hf.config;
    const [E, I] = [moe.numExperts, moe.intermediateSize];
    // Per layer, 3 x E expert matrices in the folder are 3 stacks in the file.
    assert.is(gguf.tensors.size, hf.tensors.size - layers * 3 * (E - 1));
    for (let layer = 0; layer < layers; layer++) {
      const prefix = `model.layers.${layer}.${names.moe}`;
      const router = tensor(gguf, `${prefix}.gate.weight`);
      assert.equal(router.shape, [E, H]);
      assert.equal(tensorToF32(router), tensorToF32(tensor(hf, `${prefix}.gate.weight`)));
      for (const [p, projection] of names.projections.entries()) {
        const stack = tensor(gguf, `${prefix}.experts.${projection}.weight`);
        assert.equal(stack.shape, p === 2 ? [E, H, I] : [E, I, H], projection);
        assert.equal(tensorToF32(stack), stackedExperts(hf, (e) => `${prefix}.experts.${e}.${projection}.weight`, E), `${prefix} ${projection}`);
      }
      if (moe.sharedExpertIntermediateSize !== undefined) {
        const S = moe.sharedExpertIntermediateSize;
        const shapes = { "shared_expert.gate_proj": [S, H], "shared_expert.up_proj": [S, H], "shared_expert.down_proj": [H, S], shared_expert_gate: [1, H] };
        for (const [name, shape] of Object.entries(shapes)) {
          const shared = tensor(gguf, `${prefix}.${name}.weight`);
          assert.equal(shared.shape, shape, name);
          assert.equal(tensorToF32(shared), tensorToF32(tensor(hf, `${prefix}.${name}.weight`)), `${prefix} ${name}`);
        }
      }
    }
  });
}

test("Q8_0 expert stacks load as blocks in HF shape, left out of packedWeights (widened at load); routers stay f32", async () => {
  const model = writeRandomModel({ arch: "mixtral", outDir: join(tempDir(), "mixtral-q8_0"), seed: 3, ggufQuant: "q8_0" });
  const [gguf, hf] = [await loadModel(model.ggufPath!), await loadModel(model.hfDir)];
  const prefix = "model.layers.1.block_sparse_moe";
  const stack = tensor(gguf, `${prefix}.experts.w2.weight`);
  assert.is(stack.dtype, "q8_0");
  assert.equal(stack.shape, [4, 64, 128]);
  const expected = dequantizeQ8_0(quantizeRows(stackedExperts(hf, (e) => `${prefix}.experts.${e}.w2.weight`, 4), "q8_0"));
  assert.equal(tensorToF32(stack), expected);
  assert.is(tensor(gguf, `${prefix}.gate.weight`).dtype, "f32");
  const packed = gguf.config.packedWeights ?? {};
  assert.is(packed["model.layers.1.self_attn.o_proj.weight"], "q8_0");
  assert.not.ok(`${prefix}.experts.w2.weight` in packed);
});

test("a Q8_0 qwen2moe file keeps the shared-expert gate F32 beside the router; the shared expert's matrices are packed blocks", async () => {
  const model = writeRandomModel({ arch: "qwen2_moe", outDir: join(tempDir(), "qwen2moe-q8_0"), seed: 3, ggufQuant: "q8_0" });
  const gguf = await loadModel(model.ggufPath!);
  const prefix = "model.layers.0.mlp";
  for (const name of ["gate", "shared_expert_gate"]) assert.is(tensor(gguf, `${prefix}.${name}.weight`).dtype, "f32", name);
  const packed = gguf.config.packedWeights ?? {};
  for (const projection of ["gate_proj", "up_proj", "down_proj"]) assert.is(packed[`${prefix}.shared_expert.${projection}.weight`], "q8_0", projection);
  assert.not.ok(`${prefix}.shared_expert_gate.weight` in packed);
});

test.run();

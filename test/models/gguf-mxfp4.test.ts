// GPT-OSS in MXFP4, as ggml-org's GPT-OSS GGUFs store their experts: a tiny GPT-OSS written by
// models/random with every matrix in MXFP4 blocks, the 3-D expert stacks included (which the loader
// keeps as blocks and the MoE kernels read as 8-bit panels), and again as F32 holding exactly the values
// the loader decodes the blocks to. tsvllm on the block file must give llama.cpp's distributions on
// the F32 file within 1e-5 (both in f32), over a prompt step and single-token steps, its attention
// and LM head reading the blocks as 8-bit quantized panels. llama.cpp on the block file reads them
// with its own code and 8-bit activations, and must agree with itself on the F32 file within 8e-2,
// which checks the decoding (as gguf-kquants.test.ts does for the llama with MXFP4 matrices).
// Both runs use ggml's truncated YaRN (architectures.test.ts says why GPT-OSS's own is not).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { assertBlocksMatchLlamaCpp } from "../support/block-file-check.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gguf-mxfp4-"));
test.after(() => rmSync(workDir, { recursive: true, force: true }));

test("GPT-OSS with MXFP4 experts and matrices: kept as blocks, read as llama.cpp reads them", async () => {
  const write = (widened: boolean) => writeRandomModel({ arch: "gpt_oss", outDir: join(workDir, widened ? "widened" : "blocks"), seed: 2, ggufQuant: "mxfp4", ggufQuantWidened: widened });
  const [blocks, widened] = [write(false), write(true)];
  const loaded = await loadModel(blocks.ggufPath!);
  const experts = loaded.tensors.get("model.layers.0.mlp.experts.down.weight")!;
  assert.equal([experts.dtype, experts.shape.length], ["mxfp4", 3], "the loader keeps the expert stack's blocks");
  assert.is(loaded.tensors.get("model.layers.0.self_attn.q_proj.weight")?.dtype, "mxfp4");
  assert.is(loaded.config.torchDtype, "float16");
  const { source } = planModel(loaded.config, { dtype: "f32" });
  assert.ok(source.includes("qkv_proj.weight (8-bit panels"), "qkv reads 8-bit panels");
  assert.ok(source.includes("lm_head.weight (8-bit panels"), "the LM head reads 8-bit panels");
  assert.ok(/MoE model\.layers\.0\.mlp: clamped SwiGLU .*\(8-bit panels/.test(source) && /MoE model\.layers\.0\.mlp: weighted h down\^T \+ bias \(8-bit panels/.test(source), "the experts read 8-bit panels");

  const scaling = loaded.config.ropeScaling;
  assert.ok(scaling?.ropeType === "yarn" && !scaling.truncate, "GPT-OSS's YaRN is loaded untruncated");
  loaded.config.ropeScaling = { ...scaling, truncate: true };

  await assertBlocksMatchLlamaCpp(loaded, blocks.ggufPath!, widened.ggufPath!, "gpt_oss MXFP4");
});

test.run();

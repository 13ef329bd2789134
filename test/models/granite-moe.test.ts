// GraniteMoE (GraniteMoeForCausalLM) checkpoints: a tiny random Mixtral (held to llama.cpp by
// architectures.test.ts) rewritten as GraniteMoE writes it, each layer's experts as JetMoE's
// input_linear [experts, 2 x intermediate, hidden] (gate rows, then up rows) and output_linear
// [experts, hidden, intermediate], the router at block_sparse_moe.router.layer. With unit
// multipliers and Mixtral's attention scale it is Mixtral: the loader's stacks must equal Mixtral's
// expert matrices and the logits Mixtral's. Granite's multipliers are held to llama.cpp by the dense
// Granite's tests; here a non-unit logits_scaling must divide the logits.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeSafetensors, type SafetensorsEntry } from "../../models/random/safetensors-writer.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { readSafetensorsFileSync } from "../../runtime/loader/safetensors.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-granitemoe-"));
const mixtral = writeRandomModel({ arch: "mixtral", outDir: join(workDir, "mixtral"), seed: 6, dtype: "f32" }).hfDir;
const mixtralConfig = JSON.parse(readFileSync(join(mixtral, "config.json"), "utf8"));
const [E, I] = [mixtralConfig.num_local_experts as number, mixtralConfig.intermediate_size as number];

/** Mixtral's folder rewritten as a GraniteMoE checkpoint with the given logits_scaling. */
function graniteMoeCopy(name: string, logitsScaling: number): string {
  const dir = join(workDir, name);
  mkdirSync(dir);
  for (const file of readdirSync(mixtral).filter((f) => !["config.json", "model.safetensors", "model.gguf"].includes(f))) copyFileSync(join(mixtral, file), join(dir, file));
  const headDim = mixtralConfig.hidden_size / mixtralConfig.num_attention_heads;
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    ...mixtralConfig, architectures: ["GraniteMoeForCausalLM"], model_type: "granitemoe",
    embedding_multiplier: 1, residual_multiplier: 1, attention_multiplier: headDim ** -0.5, logits_scaling: logitsScaling,
  }));
  const tensors = readSafetensorsFileSync(join(mixtral, "model.safetensors"));
  const bytes = (tensorName: string) => {
    const data = tensors.get(tensorName)!.data;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  };
  const entries: SafetensorsEntry[] = [];
  for (const [tensorName, tensor] of tensors) {
    const layer = tensorName.match(/^model\.layers\.(\d+)\.block_sparse_moe\./)?.[1];
    if (layer === undefined) {
      entries.push({ name: tensorName, dtype: "f32", shape: tensor.shape, chunks: () => [bytes(tensorName)] });
      continue;
    }
    if (!tensorName.endsWith(".gate.weight")) continue;
    const block = `model.layers.${layer}.block_sparse_moe`;
    const expert = (e: number, w: string) => bytes(`${block}.experts.${e}.${w}.weight`);
    const hidden = tensor.shape[1];
    entries.push(
      { name: `${block}.router.layer.weight`, dtype: "f32", shape: tensor.shape, chunks: () => [bytes(tensorName)] },
      { name: `${block}.input_linear.weight`, dtype: "f32", shape: [E, 2 * I, hidden], chunks: () => Array.from({ length: E }, (_, e) => [expert(e, "w1"), expert(e, "w3")]).flat() },
      { name: `${block}.output_linear.weight`, dtype: "f32", shape: [E, hidden, I], chunks: () => Array.from({ length: E }, (_, e) => expert(e, "w2")) },
    );
  }
  writeSafetensors(join(dir, "model.safetensors"), entries);
  return dir;
}

const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 500));

function logits(model: LoadedModel): Float32Array {
  const runner = createModelRunner(model, { maxNumBatchedTokens: 64, threads: 1 });
  runner.initializeKvCache(8, 16);
  return new SingleSequence(runner, 16, 8).feed(ids, true);
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test("the loader splits input_linear into the gate and up stacks and renames output_linear to the down stack", async () => {
  const [plain, granite] = [await loadModel(mixtral), await loadModel(graniteMoeCopy("unit", 1))];
  assert.is(granite.config.architecture, "GraniteMoeForCausalLM");
  assert.equal(granite.config.moe, { numExperts: E, numExpertsPerTok: mixtralConfig.num_experts_per_tok, intermediateSize: I, normTopkProb: true });
  const block = "model.layers.1.block_sparse_moe";
  for (const [part, w] of [["gate", "w1"], ["up", "w3"], ["down", "w2"]]) {
    const stack = granite.tensors.get(`${block}.experts.${part}.weight`)!;
    const experts = Array.from({ length: E }, (_, e) => Array.from(plain.tensors.get(`${block}.experts.${e}.${w}.weight`)!.data)).flat();
    assert.equal(Array.from(stack.data), experts, `${part} stack`);
  }
  assert.not.ok(granite.tensors.has(`${block}.input_linear.weight`));
});

test("with unit multipliers a GraniteMoE is its Mixtral; logits_scaling divides the logits", async () => {
  const expected = logits(await loadModel(mixtral));
  const unit = logits(await loadModel(graniteMoeCopy("unit-run", 1)));
  let worst = 0;
  unit.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected[i]))));
  assert.ok(worst < 1e-5, `max |Δ logit| ${worst}`);
  const scaled = logits(await loadModel(graniteMoeCopy("scaled", 4)));
  let worstScaled = 0;
  scaled.forEach((v, i) => (worstScaled = Math.max(worstScaled, Math.abs(v - unit[i] / 4))));
  assert.ok(worstScaled < 1e-5, `max |Δ logit| with logits_scaling 4: ${worstScaled}`);
});

test.run();

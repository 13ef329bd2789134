// Gemma3ForConditionalGeneration checkpoints (Gemma-3 4B and up) served as their language model:
// a tiny random Gemma-3 text model (held to llama.cpp by architectures.test.ts) rewritten in the
// multimodal layout, config under text_config with the checkpoint-wide fields outside it, tensors
// under either transformers prefix beside vision-tower tensors, and the chat template in the
// processor's chat_template.json. The rewritten folder must load to the same config, the same
// tensors and bit-identical logits.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { writeSafetensors, type SafetensorsEntry } from "../../models/random/safetensors-writer.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { readSafetensorsFileSync } from "../../runtime/loader/safetensors.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { loadHfTokenizer } from "../../runtime/tokenizer/hf-tokenizer.ts";
import { SingleSequence } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gemma3-mm-"));
const text = writeRandomModel({ arch: "gemma3", outDir: join(workDir, "text"), seed: 4, dtype: "f32" }).hfDir;

/** The text model's folder rewritten as a Gemma3ForConditionalGeneration checkpoint with `prefix` on the language model's tensors. */
function multimodalCopy(name: string, prefix: string, lmHead: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir);
  for (const file of readdirSync(text).filter((f) => !["config.json", "model.safetensors", "tokenizer_config.json", "model.gguf"].includes(f))) copyFileSync(join(text, file), join(dir, file));
  const tokenizerConfig = JSON.parse(readFileSync(join(text, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "chat_template.json"), JSON.stringify({ chat_template: tokenizerConfig.chat_template }));
  delete tokenizerConfig.chat_template;
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
  const { torch_dtype, eos_token_id, bos_token_id, architectures: _, ...textConfig } = JSON.parse(readFileSync(join(text, "config.json"), "utf8"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({
    architectures: ["Gemma3ForConditionalGeneration"], model_type: "gemma3", torch_dtype, eos_token_id, bos_token_id,
    text_config: textConfig, vision_config: { model_type: "siglip_vision_model", hidden_size: 8 }, image_token_index: 262144, mm_tokens_per_image: 256,
  }));
  const entries: SafetensorsEntry[] = [...readSafetensorsFileSync(join(text, "model.safetensors"))].map(([tensorName, tensor]) => ({
    name: tensorName.startsWith("model.") ? prefix + tensorName.slice("model.".length) : tensorName === "lm_head.weight" ? lmHead : tensorName,
    dtype: "f32",
    shape: tensor.shape,
    chunks: () => [new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)],
  }));
  const vision = (tensorName: string): SafetensorsEntry => ({ name: tensorName, dtype: "f32", shape: [2, 4], chunks: () => [new Uint8Array(32)] });
  writeSafetensors(join(dir, "model.safetensors"), [...entries, vision("vision_tower.vision_model.embeddings.patch_embedding.weight"), vision("multi_modal_projector.mm_input_projection_weight")]);
  return dir;
}

const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 29) % 500));

function logits(model: LoadedModel): Float32Array {
  const runner = createModelRunner(model, { maxNumBatchedTokens: 64, threads: 1 });
  runner.initializeKvCache(8, 16);
  return new SingleSequence(runner, 16, 8).feed(ids, true);
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));

for (const [name, dirName, prefix, lmHead] of [
  ["transformers < 4.52", "old-names", "language_model.model.", "language_model.lm_head.weight"],
  ["transformers >= 4.52", "new-names", "model.language_model.", "lm_head.weight"],
]) {
  test(`Gemma3ForConditionalGeneration (${name} names) loads as its language model: same config, tensors and logits`, async () => {
    const [plain, multimodal] = [await loadModel(text), await loadModel(multimodalCopy(dirName, prefix, lmHead))];
    assert.is(multimodal.config.architecture, "Gemma3ForConditionalGeneration");
    assert.equal({ ...multimodal.config, architecture: plain.config.architecture }, plain.config);
    assert.equal([...multimodal.tensors.keys()].sort(), [...plain.tensors.keys()].sort());
    for (const [tensorName, tensor] of plain.tensors) assert.equal(Array.from(multimodal.tensors.get(tensorName)!.data), Array.from(tensor.data), tensorName);
    assert.equal(Array.from(logits(multimodal)), Array.from(logits(plain)));
  });
}

test("the processor's chat_template.json is the chat template when tokenizer_config.json has none", async () => {
  const messages = [{ role: "user" as const, content: "Hello there" }];
  const dir = join(workDir, "new-names");
  const [plain, multimodal] = [await loadHfTokenizer(text), await loadHfTokenizer(dir)];
  assert.ok(plain.applyChatTemplate(messages, { addGenerationPrompt: true }).includes("Hello there"));
  assert.is(multimodal.applyChatTemplate(messages, { addGenerationPrompt: true }), plain.applyChatTemplate(messages, { addGenerationPrompt: true }));
});

test("a text_config that is not an object names the field", async () => {
  const dir = join(workDir, "broken");
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ architectures: ["Gemma3ForConditionalGeneration"], model_type: "gemma3", text_config: "gemma3_text" }));
  writeFileSync(join(dir, "model.safetensors"), "");
  const error = await loadModel(dir).then(() => null, (e: { param?: string; message: string }) => e);
  assert.is(error?.param, "text_config");
  assert.match(error!.message, "config.json");
});

test.run();

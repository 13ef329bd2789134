// Multimodal checkpoints served as their language model (Gemma-3 4B and up, Mistral Small 3.x,
// Qwen2.5-VL, Qwen3-VL): a tiny random text model of the family (held to llama.cpp by
// architectures.test.ts) rewritten in the multimodal layout, config under text_config with the
// checkpoint-wide fields outside it (or, as early Qwen2.5-VL configs, all at the top with M-RoPE),
// tensors under either transformers prefix (or the text model's own names) beside vision-tower
// tensors, and the chat template in the processor's chat_template.json. The rewritten folder must
// load to the same config, the same tensors and bit-identical logits.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel, type ArchName } from "../../models/random/write-random-model.ts";
import { writeSafetensors, type SafetensorsEntry } from "../../models/random/safetensors-writer.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { readSafetensorsFileSync } from "../../runtime/loader/safetensors.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { loadHfTokenizer } from "../../runtime/tokenizer/hf-tokenizer.ts";
import { SingleSequence } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-multimodal-"));

/** How a family's multimodal checkpoint wraps its text model. */
interface MultimodalLayout {
  /** The random text model's family. */
  textArch: ArchName;
  architecture: string;
  modelType: string;
  /** Whether config.json nests the text model's fields under text_config (else they stay at the top, as early Qwen2.5-VL configs). */
  nested: boolean;
  visionTensors: string[];
}

const layouts: Record<string, MultimodalLayout> = {
  gemma3: { textArch: "gemma3", architecture: "Gemma3ForConditionalGeneration", modelType: "gemma3", nested: true, visionTensors: ["vision_tower.vision_model.embeddings.patch_embedding.weight", "multi_modal_projector.mm_input_projection_weight"] },
  mistral3: { textArch: "mistral", architecture: "Mistral3ForConditionalGeneration", modelType: "mistral3", nested: true, visionTensors: ["vision_tower.transformer.layers.0.attention.q_proj.weight", "multi_modal_projector.linear_1.weight"] },
  qwen2_5_vl: { textArch: "qwen2", architecture: "Qwen2_5_VLForConditionalGeneration", modelType: "qwen2_5_vl", nested: false, visionTensors: ["visual.patch_embed.proj.weight", "visual.merger.mlp.0.weight"] },
  qwen3_vl: { textArch: "qwen3", architecture: "Qwen3VLForConditionalGeneration", modelType: "qwen3_vl", nested: true, visionTensors: ["model.visual.patch_embed.proj.weight", "model.visual.deepstack_merger_list.0.linear_fc1.weight"] },
};

const textDirs = new Map<ArchName, string>();
const textDir = (arch: ArchName) => textDirs.get(arch) ?? textDirs.set(arch, writeRandomModel({ arch, outDir: join(workDir, `text-${arch}`), seed: 4, dtype: "f32" }).hfDir).get(arch)!;

/** The text model's folder rewritten as the family's multimodal checkpoint with `prefix` on the language model's tensors. */
function multimodalCopy(family: string, name: string, prefix: string, lmHead: string): string {
  const layout = layouts[family];
  const text = textDir(layout.textArch);
  const dir = join(workDir, `${family}-${name}`);
  mkdirSync(dir);
  for (const file of readdirSync(text).filter((f) => !["config.json", "model.safetensors", "tokenizer_config.json", "model.gguf"].includes(f))) copyFileSync(join(text, file), join(dir, file));
  const tokenizerConfig = JSON.parse(readFileSync(join(text, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "chat_template.json"), JSON.stringify({ chat_template: tokenizerConfig.chat_template }));
  delete tokenizerConfig.chat_template;
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
  const { torch_dtype, eos_token_id, bos_token_id, architectures: _, ...textConfig } = JSON.parse(readFileSync(join(text, "config.json"), "utf8"));
  const outer = { architectures: [layout.architecture], torch_dtype, eos_token_id, bos_token_id, vision_config: { hidden_size: 8 }, image_token_index: 262144 };
  // Early Qwen2.5-VL configs: the text fields at the top, with M-RoPE sections.
  const config = layout.nested ? { ...outer, model_type: layout.modelType, text_config: textConfig } : { ...textConfig, ...outer, model_type: layout.modelType, rope_scaling: { type: "mrope", mrope_section: [2, 3, 3] } };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const entries: SafetensorsEntry[] = [...readSafetensorsFileSync(join(text, "model.safetensors"))].map(([tensorName, tensor]) => ({
    name: tensorName.startsWith("model.") ? prefix + tensorName.slice("model.".length) : tensorName === "lm_head.weight" ? lmHead : tensorName,
    dtype: "f32",
    shape: tensor.shape,
    chunks: () => [new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)],
  }));
  const vision = (tensorName: string): SafetensorsEntry => ({ name: tensorName, dtype: "f32", shape: [2, 4], chunks: () => [new Uint8Array(32)] });
  writeSafetensors(join(dir, "model.safetensors"), [...entries, ...layout.visionTensors.map(vision)]);
  return dir;
}

const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 29) % 500));

function logits(model: LoadedModel): Float32Array {
  const runner = createModelRunner(model, { maxNumBatchedTokens: 64, threads: 1 });
  runner.initializeKvCache(8, 16);
  return new SingleSequence(runner, 16, 8).feed(ids, true);
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));

const namings: [family: string, what: string, dirName: string, prefix: string, lmHead: string][] = [
  ["gemma3", "transformers < 4.52", "old-names", "language_model.model.", "language_model.lm_head.weight"],
  ["gemma3", "transformers >= 4.52", "new-names", "model.language_model.", "lm_head.weight"],
  ["mistral3", "transformers < 4.52", "old-names", "language_model.model.", "language_model.lm_head.weight"],
  ["qwen2_5_vl", "the text model's own", "own-names", "model.", "lm_head.weight"],
  ["qwen3_vl", "transformers >= 4.52", "new-names", "model.language_model.", "lm_head.weight"],
];
for (const [family, what, dirName, prefix, lmHead] of namings) {
  const { architecture, textArch } = layouts[family];
  test(`${architecture} (${what} names) loads as its language model: same config, tensors and logits as ${textArch}`, async () => {
    const [plain, multimodal] = [await loadModel(textDir(textArch)), await loadModel(multimodalCopy(family, dirName, prefix, lmHead))];
    assert.is(multimodal.config.architecture, architecture);
    assert.equal({ ...multimodal.config, architecture: plain.config.architecture }, plain.config);
    assert.equal([...multimodal.tensors.keys()].sort(), [...plain.tensors.keys()].sort());
    for (const [tensorName, tensor] of plain.tensors) assert.equal(Array.from(multimodal.tensors.get(tensorName)!.data), Array.from(tensor.data), tensorName);
    assert.equal(Array.from(logits(multimodal)), Array.from(logits(plain)));
  });
}

test("the processor's chat_template.json is the chat template when tokenizer_config.json has none", async () => {
  const messages = [{ role: "user" as const, content: "Hello there" }];
  const dir = join(workDir, "gemma3-new-names");
  const [plain, multimodal] = [await loadHfTokenizer(textDir("gemma3")), await loadHfTokenizer(dir)];
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

// loadTokenizer: the tokenizer that belongs to a loaded model, from its HF folder or its GGUF file,
// or from the folder or hub id vLLM's --tokenizer names (tokenizerFolder).
import { stat } from "node:fs/promises";
import { TsvllmError } from "../errors.ts";
import { readGgufHeader } from "../loader/gguf-reader.ts";
import { hubEnv, isHubId, resolveHubModel } from "../loader/hub.ts";
import type { LoadedModel } from "../loader/types.ts";
import { GgufTokenizer } from "./gguf-tokenizer.ts";
import { readGgufVocab } from "./gguf-vocab.ts";
import { loadHfTokenizer } from "./hf-tokenizer.ts";
import type { Tokenizer } from "./types.ts";

/**
 * A GGUF model uses the vocabulary embedded in its file; an HF model the tokenizer.json of `dir`
 * (default: the folder it was loaded from). generation_config.json stop ids count as EOS.
 */
export async function loadTokenizer(model: LoadedModel, dir?: string): Promise<Tokenizer> {
  if (model.format === "gguf" && dir === undefined) return new GgufTokenizer(readGgufVocab(await readGgufHeader(model.source)));
  return loadHfTokenizer(dir ?? model.source, model.generationConfig.eosTokenIds);
}

/**
 * The folder of vLLM's --tokenizer: a local folder as it is, a hub id as its cached (else
 * downloaded) tokenizer files at `revision`, in `downloadDir` when given.
 */
export async function tokenizerFolder(path: string, options: { revision?: string; downloadDir?: string } = {}): Promise<string> {
  if ((await stat(path).catch(() => null))?.isDirectory()) return path;
  if (isHubId(path)) return resolveHubModel(path, { revision: options.revision, env: hubEnv(options.downloadDir), files: "tokenizer" });
  throw new TsvllmError("TSVLLM_ERR_TOKENIZER", `tokenizer "${path}" is neither a folder with tokenizer.json nor a Hugging Face model id`, "tokenizerPath");
}

export { encodeChatPrompt, chatPromptNeedsBos, defaultChatTemplate } from "./chat-template.ts";
export { GgufTokenizer } from "./gguf-tokenizer.ts";
export { HfTokenizer, loadHfTokenizer } from "./hf-tokenizer.ts";

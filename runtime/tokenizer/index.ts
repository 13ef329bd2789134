// loadTokenizer: the tokenizer that belongs to a loaded model, from its HF folder or its GGUF file.
import { readGgufHeader } from "../loader/gguf-reader.ts";
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

export { encodeChatPrompt, chatPromptNeedsBos, defaultChatTemplate } from "./chat-template.ts";
export { GgufTokenizer } from "./gguf-tokenizer.ts";
export { HfTokenizer, loadHfTokenizer } from "./hf-tokenizer.ts";

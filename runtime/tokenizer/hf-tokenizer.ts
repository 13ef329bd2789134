// Hugging Face tokenizers: tokenizer.json run by @huggingface/tokenizers, with tokenizer_config.json
// for BOS/EOS, add_bos_token and the chat template (or chat_template.jinja, where newer transformers
// versions save it, or a multimodal processor's chat_template.json).
import { Tokenizer as HfTokenizerModel } from "@huggingface/tokenizers";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TsvllmError } from "../errors.ts";
import { readOptionalJsonFile } from "../loader/file-io.ts";
import { renderChatTemplate } from "./chat-template.ts";
import { WindowDetokenizer, type DetokenizerOptions } from "./detokenizer.ts";
import type { ChatMessage, ChatTemplateOptions, IncrementalDetokenizer, Tokenizer } from "./types.ts";

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json: a string, or an AddedToken object with `content`. */
function tokenContent(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as Json).content === "string") return (value as Json).content as string;
  return null;
}

/** chat_template is one string, or a list of named templates of which "default" is the chat one. */
function chatTemplateOf(config: Json): string | null {
  const template = config.chat_template;
  if (typeof template === "string") return template;
  if (Array.isArray(template)) {
    const named = template.find((t) => (t as Json)?.name === "default") as Json | undefined;
    return typeof named?.template === "string" ? named.template : null;
  }
  return null;
}

// @huggingface/tokenizers 0.2.0's ByteFallback decoder uses a TextDecoder that drops a leading
// U+FEFF from each run of byte tokens; the Rust tokenizers library (and llama.cpp) keep it. The
// decoder classes are not reachable through the package's type declarations, hence the shape below.
interface DecoderNode {
  config?: { type?: string };
  decoders?: DecoderNode[];
  text_decoder?: TextDecoder;
}

function keepByteOrderMarks(decoder: DecoderNode | null | undefined): void {
  if (!decoder) return;
  if (decoder.config?.type === "ByteFallback") decoder.text_decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  decoder.decoders?.forEach(keepByteOrderMarks);
}

export interface HfTokenizerFiles {
  tokenizerJson: Json;
  tokenizerConfig: Json;
  /** Contents of chat_template.jinja, when the folder has one. */
  chatTemplateFile?: string | null;
  /** Stop ids from generation_config.json, added to the tokenizer's EOS. */
  extraEosTokenIds?: readonly number[];
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly addBosToken: boolean;
  private readonly model: HfTokenizerModel;
  private readonly specialIds: ReadonlySet<number>;
  private readonly bosToken: string;
  private readonly eosToken: string;
  private readonly chatTemplate: string | null;
  /** A plain token placed before another to decode it as it reads mid-text (see tokenText). */
  private readonly anchorId: number | null;

  constructor(files: HfTokenizerFiles) {
    const config = files.tokenizerConfig;
    try {
      this.model = new HfTokenizerModel(files.tokenizerJson, config);
    } catch (error) {
      throw new TsvllmError("TSVLLM_ERR_TOKENIZER", `tokenizer.json cannot be loaded: ${(error as Error).message}`, "tokenizer.json");
    }
    keepByteOrderMarks(this.model.decoder as DecoderNode | null);
    const vocab = this.model.get_vocab(true);
    this.vocabSize = Math.max(-1, ...vocab.values()) + 1;
    this.bosToken = tokenContent(config.bos_token) ?? "";
    this.eosToken = tokenContent(config.eos_token) ?? "";
    this.bosTokenId = this.bosToken ? (this.model.token_to_id(this.bosToken) ?? null) : null;
    const eosId = this.eosToken ? this.model.token_to_id(this.eosToken) : undefined;
    this.eosTokenIds = [...new Set([...(eosId === undefined ? [] : [eosId]), ...(files.extraEosTokenIds ?? [])])];
    this.specialIds = new Set([...this.model.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id));
    // Without add_bos_token in the config, the post-processor (TemplateProcessing) decides.
    this.addBosToken = typeof config.add_bos_token === "boolean"
      ? config.add_bos_token && this.bosTokenId !== null
      : this.bosTokenId !== null && this.encode("a")[0] === this.bosTokenId;
    this.chatTemplate = chatTemplateOf(config) ?? files.chatTemplateFile ?? null;
    this.anchorId = this.encode("a", { addSpecialTokens: false })[0] ?? null;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.model.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  encodePair(text: string, pair: string): number[] {
    return this.model.encode(text, { text_pair: pair, add_special_tokens: true }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    // @huggingface/tokenizers throws on an empty list; the Rust library returns "".
    if (ids.length === 0) return "";
    return this.model.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * The token's text as it reads in the middle of a text: decoded after an anchor token, so decoder
   * rules for the first token (SentencePiece drops its leading space) do not apply.
   */
  tokenText(id: number): string {
    if (this.anchorId === null) return this.decode([id]);
    return this.decode([this.anchorId, id]).slice(this.decode([this.anchorId]).length);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    return renderChatTemplate({ template: this.chatTemplate, bosToken: this.bosToken, eosToken: this.eosToken }, messages, options);
  }

  createDetokenizer(options?: DetokenizerOptions): IncrementalDetokenizer {
    return new WindowDetokenizer((ids, decodeOptions) => this.decode(ids, decodeOptions), options);
  }
}

async function readOptionalText(path: string): Promise<string | null> {
  return readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw new TsvllmError("TSVLLM_ERR_TOKENIZER", `${path}: cannot read (${error.code ?? String(error)})`, "chat_template");
  });
}

/** Loads the tokenizer of a Hugging Face model folder. */
export async function loadHfTokenizer(dir: string, extraEosTokenIds: readonly number[] = []): Promise<HfTokenizer> {
  const tokenizerPath = join(dir, "tokenizer.json");
  const tokenizerJson = await readOptionalJsonFile(tokenizerPath);
  if (!tokenizerJson) {
    throw new TsvllmError("TSVLLM_ERR_TOKENIZER", `${tokenizerPath}: file not found (only fast tokenizers, tokenizer.json, are supported)`, "tokenizer.json");
  }
  const tokenizerConfig = (await readOptionalJsonFile(join(dir, "tokenizer_config.json"))) ?? {};
  // Multimodal checkpoints save their processor's template as chat_template.json instead.
  const processorTemplate = (await readOptionalJsonFile(join(dir, "chat_template.json")))?.chat_template;
  const chatTemplateFile = (await readOptionalText(join(dir, "chat_template.jinja"))) ?? (typeof processorTemplate === "string" ? processorTemplate : null);
  return new HfTokenizer({ tokenizerJson, tokenizerConfig, chatTemplateFile, extraEosTokenIds });
}

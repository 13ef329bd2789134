// The one tokenizer interface the engine and server use, whether the vocabulary came from
// tokenizer.json (@huggingface/tokenizers) or from a GGUF file's embedded vocabulary.

/** A tool call of an earlier assistant turn, as chat templates read it (arguments parsed from JSON where they parse). */
export interface ChatToolCall {
  id?: string;
  type: "function";
  function: { name: string; arguments: unknown };
}

// Fields past role and content keep the names chat templates read (transformers' message dicts).
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | "developer";
  content: string;
  tool_calls?: ChatToolCall[];
  /** On a tool message: the call it answers. */
  tool_call_id?: string;
  name?: string;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  continueFinalMessage?: boolean;
  /** A Jinja template overriding the model's own. */
  chatTemplate?: string;
  chatTemplateKwargs?: Record<string, unknown>;
  /** The request's tool definitions, passed to the template as `tools`. */
  tools?: readonly unknown[];
}

/** Turns one token at a time into text deltas that never split a UTF-8 character. */
export interface IncrementalDetokenizer {
  /** Appends a token and returns the new text it completes (possibly ""). */
  push(tokenId: number): string;
  /** The whole text so far; equals decode() of every pushed token (past the prompt, when one was given). */
  readonly text: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  /** tokenizer_config.json add_bos_token (GGUF: tokenizer.ggml.add_bos_token, default true for llama). */
  readonly addBosToken: boolean;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  /**
   * Two texts encoded as one input with the special tokens of the tokenizer's pair template
   * (transformers' tokenizer(text, text_pair)), as cross-encoders read a pair; absent where the
   * tokenizer has no such template (GGUF vocabularies).
   */
  encodePair?(text: string, pair: string): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Text of one token as it should appear in a logprobs entry. */
  tokenText(id: number): string;
  isSpecial(id: number): boolean;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /**
   * `promptIds`: the tokens before the first pushed one, used only as context (not part of `text`),
   * so a SentencePiece tokenizer keeps the leading space of the first generated word.
   */
  createDetokenizer(options?: { skipSpecialTokens?: boolean; promptIds?: readonly number[] }): IncrementalDetokenizer;
}

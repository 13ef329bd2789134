// The tokenizer embedded in a GGUF file, giving llama.cpp's ids: special-token texts are split out
// first, SentencePiece ("llama") vocabularies get llama.cpp's space prefix and SPM merges, byte-level
// ("gpt2") vocabularies are pre-split by their regex and merged by rank (gpt2-bpe.ts).
import { renderChatTemplate } from "./chat-template.ts";
import { WindowDetokenizer, type DetokenizerOptions } from "./detokenizer.ts";
import { Gpt2Bpe } from "./gpt2-bpe.ts";
import { TokenType, type GgufVocab } from "./gguf-vocab.ts";
import { bySpecialPriority, splitOnSpecialTokens, type SpecialToken } from "./special-split.ts";
import { spmTokenize, type SpmVocab } from "./spm.ts";
import type { ChatMessage, ChatTemplateOptions, IncrementalDetokenizer, Tokenizer } from "./types.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const spaceMarker = "\u2581";

// llama.cpp's clean_spaces, pass by pass: " ." -> ".", " ' " -> "'", " 's" -> "'s" (also 'm 're 've).
function cleanUpSpaces(text: string): string {
  return text.replace(/ ([?!.,])/g, "$1").replace(/ ' /g, "'").replace(/ '(?=[sm]|re|ve)/g, "'");
}

export class GgufTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly addBosToken: boolean;
  private readonly tokenToId = new Map<string, number>();
  private readonly specials: SpecialToken[];
  private readonly spm: SpmVocab;
  private readonly bpe: Gpt2Bpe | null;
  /** UTF-8 bytes each token decodes to, with special tokens shown (cached on first use). */
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(private readonly vocab: GgufVocab) {
    this.vocabSize = vocab.tokens.length;
    this.bosTokenId = vocab.bosTokenId;
    this.eosTokenIds = [...new Set([vocab.eosTokenId, vocab.eotTokenId].filter((id): id is number => id !== null))];
    this.addBosToken = vocab.addBos && vocab.bosTokenId !== null;
    // Later duplicates win, as in llama.cpp's token_to_id map.
    vocab.tokens.forEach((text, id) => this.tokenToId.set(text, id));
    const specialTypes: number[] = [TokenType.control, TokenType.userDefined, TokenType.unknown];
    this.specials = bySpecialPriority(
      vocab.tokens.flatMap((text, id) => (specialTypes.includes(vocab.types[id]) ? [{ id, text }] : [])),
    );
    this.spm = { tokenToId: this.tokenToId, scores: vocab.scores, byteToken: (byte) => this.byteToken(byte) };
    this.bpe = vocab.pre ? new Gpt2Bpe(vocab, vocab.pre, this.tokenToId) : null;
    this.pieces = new Array(vocab.tokens.length);
  }

  // SentencePiece byte fallback: "<0xE6>", else the byte as a one-character piece, else <unk>.
  private byteToken(byte: number): number {
    const hex = `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
    return this.tokenToId.get(hex) ?? (byte < 0x80 ? this.tokenToId.get(String.fromCharCode(byte)) : undefined) ?? this.vocab.unknownTokenId ?? 0;
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const addSpecial = options.addSpecialTokens ?? true;
    const ids: number[] = [];
    if (addSpecial && this.addBosToken) ids.push(this.bosTokenId!);
    // llama.cpp prefixes a space to the first text and to text right after a special token.
    let afterSpecial = true;
    for (const fragment of splitOnSpecialTokens(text, this.specials)) {
      if ("id" in fragment) {
        ids.push(fragment.id);
        afterSpecial = true;
      } else if (this.bpe) {
        this.bpe.tokenize(fragment.text, ids);
      } else {
        const prefixed = this.vocab.addSpacePrefix && afterSpecial ? ` ${fragment.text}` : fragment.text;
        spmTokenize(prefixed.replaceAll(" ", spaceMarker), this.spm, ids);
        afterSpecial = false;
      }
    }
    if (addSpecial && this.vocab.addEos && this.vocab.eosTokenId !== null) ids.push(this.vocab.eosTokenId);
    return ids;
  }

  private piece(id: number): Uint8Array {
    const cached = this.pieces[id];
    if (cached) return cached;
    const text = this.vocab.tokens[id] ?? "";
    let bytes: Uint8Array;
    switch (this.vocab.types[id]) {
      case TokenType.normal:
        bytes = this.bpe ? this.bpe.tokenBytes(text) : encoder.encode(text.replaceAll(spaceMarker, " "));
        break;
      case TokenType.byte:
        bytes = Uint8Array.of(parseInt(text.slice(3, 5), 16));
        break;
      case TokenType.control:
      case TokenType.unknown:
      case TokenType.userDefined:
        bytes = encoder.encode(text);
        break;
      default:
        bytes = new Uint8Array(0);
    }
    this.pieces[id] = bytes;
    return bytes;
  }

  isSpecial(id: number): boolean {
    const type = this.vocab.types[id];
    return type === TokenType.control || type === TokenType.unknown;
  }

  /**
   * As llama.cpp's detokenize: one leading space of the first piece is dropped (the SentencePiece
   * space prefix), and byte-level vocabularies may clean up spaces before punctuation.
   */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const pieces = ids.map((id) => (options.skipSpecialTokens && this.isSpecial(id) ? new Uint8Array(0) : this.piece(id)));
    if (this.vocab.addSpacePrefix && pieces.length > 0 && pieces[0][0] === 0x20) pieces[0] = pieces[0].subarray(1);
    const text = utf8.decode(Buffer.concat(pieces));
    return this.vocab.cleanSpaces ? cleanUpSpaces(text) : text;
  }

  tokenText(id: number): string {
    return utf8.decode(this.piece(id));
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    const text = (id: number | null): string => (id === null ? "" : this.vocab.tokens[id]);
    return renderChatTemplate({ template: this.vocab.chatTemplate, bosToken: text(this.bosTokenId), eosToken: text(this.vocab.eosTokenId) }, messages, options);
  }

  createDetokenizer(options?: DetokenizerOptions): IncrementalDetokenizer {
    return new WindowDetokenizer((ids, decodeOptions) => this.decode(ids, decodeOptions), options);
  }
}

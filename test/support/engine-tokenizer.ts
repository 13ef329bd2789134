// A small byte-level tokenizer for engine tests: three special tokens, the 256 bytes, then a few
// multi-character merges so words span one or several tokens and stop strings can straddle token
// boundaries. Encoding is greedy longest match over UTF-8 bytes; decoding streams bytes through a
// TextDecoder, so multi-byte characters split across tokens come out whole.
import type { ChatMessage, IncrementalDetokenizer, Tokenizer } from "../../runtime/tokenizer/types.ts";

export const unkTokenId = 0;
export const bosTokenId = 1;
export const eosTokenId = 2;
const firstByteToken = 3;
const merges = [" the", "the", " a", " and", "ing", " once", " upon", " time", "hello", " world", "ST", "OP", "STOP", "ll", " "].map((m) => new TextEncoder().encode(m));
const specialNames = ["<unk>", "<s>", "</s>"];

function tokenBytes(id: number): Uint8Array {
  if (id < firstByteToken) return new Uint8Array(0);
  if (id < firstByteToken + 256) return Uint8Array.of(id - firstByteToken);
  return merges[id - firstByteToken - 256];
}

export class EngineTestTokenizer implements Tokenizer {
  readonly vocabSize = firstByteToken + 256 + merges.length;
  readonly bosTokenId = bosTokenId;
  readonly eosTokenIds = [eosTokenId];
  readonly addBosToken = true;

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const ids = options.addSpecialTokens === false ? [] : [bosTokenId];
    for (let i = 0; i < bytes.length; ) {
      let best = firstByteToken + bytes[i];
      let bestLen = 1;
      merges.forEach((m, k) => {
        if (m.length > bestLen && i + m.length <= bytes.length && m.every((b, j) => bytes[i + j] === b)) {
          best = firstByteToken + 256 + k;
          bestLen = m.length;
        }
      });
      ids.push(best);
      i += bestLen;
    }
    return ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const d = this.createDetokenizer(options);
    for (const id of ids) d.push(id);
    return d.text;
  }

  tokenText(id: number): string {
    return this.isSpecial(id) ? specialNames[id] : new TextDecoder().decode(tokenBytes(id));
  }

  isSpecial(id: number): boolean {
    return id < firstByteToken;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const turns = messages.map((m) => `<|${m.role}|>${m.content}\n`).join("");
    return options.addGenerationPrompt === false ? turns : `${turns}<|assistant|>`;
  }

  createDetokenizer(options: { skipSpecialTokens?: boolean } = {}): IncrementalDetokenizer {
    const skip = options.skipSpecialTokens ?? true;
    const decoder = new TextDecoder("utf-8", { fatal: false });
    let text = "";
    return {
      push: (id: number): string => {
        const piece = this.isSpecial(id) ? (skip ? "" : specialNames[id]) : decoder.decode(tokenBytes(id), { stream: true });
        text += piece;
        return piece;
      },
      get text() {
        return text;
      },
    };
  }
}

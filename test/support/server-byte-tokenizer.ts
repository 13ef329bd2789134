// A byte-level Tokenizer double for server tests: ids 0-255 are UTF-8 bytes, then four special
// tokens; chat templates render through the real tokenizers' renderChatTemplate.
import { renderChatTemplate } from "../../runtime/tokenizer/chat-template.ts";
import type { ChatMessage, ChatTemplateOptions, IncrementalDetokenizer, Tokenizer } from "../../runtime/tokenizer/types.ts";

export const BOS = 256;
export const EOS = 257;
const specials = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"];
const specialPattern = new RegExp(`(${specials.map((s) => s.replace(/[|]/g, "\\|")).join("|")})`);

/** ChatML, opening with the BOS token like Llama-style templates do. */
export const chatmlTemplate =
  "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

export class ByteTokenizer implements Tokenizer {
  readonly vocabSize = 256 + specials.length;
  readonly bosTokenId = BOS;
  readonly eosTokenIds = [EOS];
  readonly addBosToken = true;

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const ids: number[] = options.addSpecialTokens ?? true ? [BOS] : [];
    for (const part of text.split(specialPattern)) {
      const special = specials.indexOf(part);
      if (special >= 0) ids.push(256 + special);
      else ids.push(...Buffer.from(part, "utf8"));
    }
    return ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    let text = "";
    let bytes: number[] = [];
    const flush = () => {
      text += Buffer.from(bytes).toString("utf8");
      bytes = [];
    };
    for (const id of ids) {
      if (id < 256) {
        bytes.push(id);
        continue;
      }
      flush();
      if (!options.skipSpecialTokens) text += specials[id - 256];
    }
    flush();
    return text;
  }

  tokenText(id: number): string {
    if (id >= 256) return specials[id - 256];
    return id >= 0x20 && id < 0x7f ? String.fromCharCode(id) : `<0x${id.toString(16).toUpperCase().padStart(2, "0")}>`;
  }

  isSpecial(id: number): boolean {
    return id >= 256;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    return renderChatTemplate({ template: chatmlTemplate, bosToken: specials[0], eosToken: specials[1] }, messages, options);
  }

  createDetokenizer(options: { skipSpecialTokens?: boolean } = {}): IncrementalDetokenizer {
    const ids: number[] = [];
    let emitted = "";
    const decode = (all: number[]) => this.decode(all, options);
    return {
      push(tokenId: number): string {
        ids.push(tokenId);
        const full = decode(ids);
        // Hold back a trailing replacement character: it may be a character still being completed.
        const stable = full.endsWith("\uFFFD") ? full.slice(0, -1) : full;
        const delta = stable.slice(emitted.length);
        emitted = stable.length > emitted.length ? stable : emitted;
        return delta;
      },
      get text() {
        return decode(ids);
      },
    };
  }
}

// A small byte-level BPE vocabulary trained here on the tokenizer corpus (most frequent pair first),
// written into a tiny llama GGUF as tokenizer.ggml.model "gpt2", so llama.cpp can serve as the oracle
// for the GGUF byte-level BPE tokenizer without a multi-GB Qwen or Llama-3 download.
import { f32Bytes, ggmlType, ggufBytes, type GgufTensorSpec } from "./loader-gguf-writer.ts";
import { tokenizerCorpus } from "./tokenizer-corpus.ts";

// GPT-2's printable stand-ins for bytes (the mapping every byte-level BPE vocabulary uses).
function byteChars(): string[] {
  const chars: string[] = [];
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
    chars.push(String.fromCodePoint(printable ? byte : 256 + extra++));
  }
  return chars;
}

/** Trains `mergeCount` merges on space-separated words of the corpus; ties go to the smaller pair text. */
export function trainByteLevelBpe(mergeCount: number): { tokens: string[]; merges: string[] } {
  const chars = byteChars();
  const encoder = new TextEncoder();
  const words = tokenizerCorpus()
    .join(" ")
    .split(/(?= )/u)
    .map((word) => Array.from(encoder.encode(word), (byte) => chars[byte]));
  const merges: string[] = [];
  for (let step = 0; step < mergeCount; step++) {
    const counts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        const pair = `${word[i]} ${word[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    let best: string | null = null;
    for (const [pair, count] of counts) {
      const bestCount = best === null ? 0 : counts.get(best)!;
      if (count > bestCount || (count === bestCount && best !== null && pair < best)) best = pair;
    }
    if (best === null) break;
    merges.push(best);
    const [left, right] = best.split(" ");
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
      }
    }
  }
  const merged = merges.map((merge) => merge.replace(" ", ""));
  return { tokens: [...chars, ...new Set(merged)], merges };
}

/** A one-layer llama GGUF (zero weights) carrying the trained vocabulary with pre-tokenizer `pre`. */
export function byteLevelBpeGguf(pre: string): Uint8Array {
  const { tokens, merges } = trainByteLevelBpe(300);
  const allTokens = [...tokens, "<|endoftext|>"];
  const endOfText = allTokens.length - 1;
  const types = allTokens.map((_, id) => (id === endOfText ? 3 : 1));
  const hidden = 8;
  const zeros = (name: string, dims: number[]): GgufTensorSpec => ({
    name, dims, ggmlType: ggmlType.f32, data: f32Bytes(new Float32Array(dims.reduce((a, b) => a * b, 1))),
  });
  const ones = (name: string): GgufTensorSpec => ({ name, dims: [hidden], ggmlType: ggmlType.f32, data: f32Bytes(new Float32Array(hidden).fill(1)) });
  return ggufBytes(
    {
      "general.architecture": { type: "string", value: "llama" },
      "llama.embedding_length": { type: "u32", value: hidden },
      "llama.block_count": { type: "u32", value: 1 },
      "llama.feed_forward_length": { type: "u32", value: 16 },
      "llama.attention.head_count": { type: "u32", value: 2 },
      "llama.attention.head_count_kv": { type: "u32", value: 2 },
      "llama.context_length": { type: "u32", value: 256 },
      "llama.rope.dimension_count": { type: "u32", value: 4 },
      "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: 1e-5 },
      "tokenizer.ggml.model": { type: "string", value: "gpt2" },
      "tokenizer.ggml.pre": { type: "string", value: pre },
      "tokenizer.ggml.tokens": { type: "strings", value: allTokens },
      "tokenizer.ggml.token_type": { type: "i32s", value: types },
      "tokenizer.ggml.merges": { type: "strings", value: merges },
      "tokenizer.ggml.bos_token_id": { type: "u32", value: endOfText },
      "tokenizer.ggml.eos_token_id": { type: "u32", value: endOfText },
      "tokenizer.ggml.add_bos_token": { type: "bool", value: false },
    },
    [
      zeros("token_embd.weight", [hidden, allTokens.length]),
      ones("output_norm.weight"),
      ones("blk.0.attn_norm.weight"),
      zeros("blk.0.attn_q.weight", [hidden, hidden]),
      zeros("blk.0.attn_k.weight", [hidden, hidden]),
      zeros("blk.0.attn_v.weight", [hidden, hidden]),
      zeros("blk.0.attn_output.weight", [hidden, hidden]),
      ones("blk.0.ffn_norm.weight"),
      zeros("blk.0.ffn_gate.weight", [hidden, 16]),
      zeros("blk.0.ffn_up.weight", [hidden, 16]),
      zeros("blk.0.ffn_down.weight", [16, hidden]),
    ],
  );
}

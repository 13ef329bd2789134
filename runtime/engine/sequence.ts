// One generated sequence: its tokens, how many of them have KV in the cache, its blocks and its
// output so far. A request with n > 1 owns n sequences; only the first is scheduled until the
// prompt is computed, then the others fork from it and share its prompt blocks.
import type { IncrementalDetokenizer } from "../tokenizer/types.ts";
import type { BlockOwner } from "./block-manager.ts";
import { RepetitionDetector } from "./repetition-detector.ts";
import type { Request } from "./request.ts";
import { numLogprobs, type FinishReason, type PositionLogprobs } from "./types.ts";

export type SequenceStatus = "waiting" | "running" | "swapped" | "finished";

let nextSequenceId = 0;

export class Sequence implements BlockOwner {
  /** Unique within the process; orders sequences that arrive in the same millisecond. */
  readonly seqId = nextSequenceId++;
  readonly request: Request;
  /** Which of the request's n outputs this is; also the RNG stream index. */
  readonly index: number;
  readonly numPromptTokens: number;
  /** Prompt then output token ids. */
  readonly tokenIds: number[];
  numComputedTokens = 0;
  status: SequenceStatus = "waiting";
  blockTable: number[] = [];
  blockHashes: string[] = [];
  numCachedBlocks = 0;
  swappedBlockTable: number[] = [];
  /** Tokens proposed to follow the last one (speculative decoding), checked by its next decode step. */
  draftTokenIds: number[] = [];
  numPreemptions = 0;
  /** Where the output so far leaves the request's structured-output automaton (0, its start, without one). */
  grammarState = 0;
  /** Watches the output for repetition_detection's patterns; null when the request asks for none. */
  readonly repetitionDetector: RepetitionDetector | null;

  readonly detokenizer: IncrementalDetokenizer;
  /** Output text; set to the truncated text once a stop string ends the sequence. */
  outputText = "";
  readonly outputLogprobs: PositionLogprobs[] | null;
  cumulativeLogprob = 0;
  finishReason: FinishReason | null = null;
  stopReason: string | number | null = null;

  constructor(request: Request, index: number, detokenizer: IncrementalDetokenizer) {
    this.request = request;
    this.index = index;
    this.tokenIds = [...request.promptTokenIds];
    this.numPromptTokens = request.promptTokenIds.length;
    this.detokenizer = detokenizer;
    this.outputLogprobs = numLogprobs(request.params) === null ? null : [];
    this.repetitionDetector = RepetitionDetector.create(request.params.repetitionDetection, request.maxOutputTokens);
  }

  get numTokens(): number {
    return this.tokenIds.length;
  }

  get numOutputTokens(): number {
    return this.tokenIds.length - this.numPromptTokens;
  }

  get outputTokenIds(): number[] {
    return this.tokenIds.slice(this.numPromptTokens);
  }

  /** What keeps this sequence's cached prefixes apart: the request's salt and its LoRA adapter (whose KV differs from the base model's). */
  get cacheSalt(): string | null {
    const { cacheSalt, lora } = this.request;
    if (lora === null) return cacheSalt;
    return JSON.stringify([cacheSalt, lora.loraIntId]);
  }

  /**
   * As vLLM's skip_reading_prefix_cache: cached blocks run no forward pass, so they give no prompt
   * log-probs, and no hidden states for pooling types that read more than the last token.
   */
  get skipPrefixCache(): boolean {
    const { params, pooling } = this.request;
    return params.promptLogprobs !== null || params.promptLogprobTokenIds !== null || (pooling !== null && pooling.poolingType !== "LAST");
  }

  get isFinished(): boolean {
    return this.status === "finished";
  }

  finish(reason: FinishReason, stopReason: string | number | null = null): void {
    this.status = "finished";
    this.finishReason = reason;
    this.stopReason = stopReason;
  }
}

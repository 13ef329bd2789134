// The JS side of the native sampler: packs each sample row's params into typed arrays, makes one
// native call per step, and unpacks token ids and log-probs. The only loops here are over rows
// and over a row's short lists (bias entries, history for penalties), never over the vocabulary.
import { writeRequestedLogprobs } from "./logprobs.ts";
import { maxLogitEditsPerRow, type DeviceSampling } from "./model-runner.ts";
import type { NativeSamplerAddon, NativeSampleBatch } from "./sampler-addon.ts";
import type { Request } from "./request.ts";
import type { Sequence } from "./sequence.ts";
import type { ThinkingBudgets } from "./thinking-budget.ts";
import { numLogprobs } from "./types.ts";

/** A sequence that gets a token this step, and the logits row it is drawn from. */
export interface SampleRow {
  seq: Sequence;
  logitsRow: number;
  /**
   * Which of the sequence's next tokens the row draws: 0, or j for the row that checks draft j
   * (speculative decoding), which draws as the plain run would draw that token, from the RNG
   * step numOutputTokens + j.
   */
  draftIndex?: number;
}

/** Log-prob slots of several rows, width per row: slot 0 is the chosen or target token, then the top-N. */
export interface LogprobTensors {
  width: number;
  tokenIds: Int32Array;
  logprobs: Float32Array;
  ranks: Int32Array;
}

export interface SamplerOutput {
  tokenIds: Int32Array;
  logprobs: LogprobTensors | null;
}

/** vLLM's _SAMPLING_EPS (sampler.cc's kSamplingEps): temperatures below it mean greedy. */
const samplingEps = 1e-5;

/** Per-request lists that never change while it runs, packed once. */
interface RequestTables {
  biasTokenIds: number[];
  biasValues: number[];
  allowedTokenIds: number[];
  /** EOS (unless ignoreEos) and stop token ids, masked while below minTokens. */
  stopIds: number[];
  needsHistory: boolean;
}

function requestTables(request: Request): RequestTables {
  const p = request.params;
  const bias = Object.entries(p.logitBias ?? {}).map(([id, value]) => [Number(id), value] as const);
  return {
    biasTokenIds: bias.map(([id]) => id),
    biasValues: bias.map(([, value]) => value),
    allowedTokenIds: p.allowedTokenIds ?? [],
    stopIds: [...(p.ignoreEos ? [] : request.eosTokenIds), ...p.stopTokenIds],
    needsHistory: p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0 || request.badWordsTokenIds.some((w) => w.length > 1),
  };
}

/** A row's allowed tokens (empty: all): allowed_token_ids, or what the request's structured-output constraint lets follow. */
function allowedTokenIds(seq: Sequence, t: RequestTables): ArrayLike<number> {
  const grammar = seq.request.grammar;
  return grammar === null ? t.allowedTokenIds : grammar.nextTokenIds(seq.grammarState, seq.request.eosTokenIds);
}

/** CSR rows of allowed tokens, copied into one Int32Array at the end (a constrained row can allow most of the vocabulary). */
class AllowedRows {
  readonly offsets: Int32Array;
  private readonly rows: ArrayLike<number>[] = [];

  constructor(numRows: number) {
    this.offsets = new Int32Array(numRows + 1);
  }

  push(ids: ArrayLike<number>): void {
    this.rows.push(ids);
    this.offsets[this.rows.length] = this.offsets[this.rows.length - 1] + ids.length;
  }

  values(): Int32Array {
    const out = new Int32Array(this.offsets[this.rows.length]);
    this.rows.forEach((ids, r) => out.set(ids, this.offsets[r]));
    return out;
  }
}

/** Row r's draw key: (seed, sequence index, step), so a draw never depends on the rest of the batch, nor on drafting. */
function writeRngKey(into: Uint32Array, r: number, { seq, draftIndex }: SampleRow): void {
  const seed = seq.request.rngSeed;
  into[r * 4] = Number(seed & 0xffffffffn);
  into[r * 4 + 1] = Number((seed >> 32n) & 0xffffffffn);
  into[r * 4 + 2] = seq.index;
  into[r * 4 + 3] = seq.numOutputTokens + (draftIndex ?? 0);
}

/** One token's logit edit (DeviceSampling): bias first, then the repetition factor, then the subtraction. */
interface LogitEdit {
  bias: number;
  repetition: number;
  subtract: number;
}

/**
 * A row's logit processors other than allowed_token_ids as edits of single tokens, with the native
 * sampler's meaning (runtime/native/sampler.cc): stop ids banned below min_tokens, bad words whose
 * prefix ends the output, logit_bias, the repetition penalty on every token of the prompt and
 * output, and frequency * count + presence for every token of the output.
 */
function logitEdits(seq: Sequence, t: RequestTables, history: HistoryCounts | undefined): Map<number, LogitEdit> {
  const p = seq.request.params;
  const edits = new Map<number, LogitEdit>();
  const edit = (token: number) => {
    let e = edits.get(token);
    if (e === undefined) edits.set(token, (e = { bias: 0, repetition: 1, subtract: 0 }));
    return e;
  };
  const tokens = seq.tokenIds;
  const bans = seq.numOutputTokens < p.minTokens ? [...t.stopIds] : [];
  for (const word of seq.request.badWordsTokenIds) {
    const prefix = word.length - 1;
    if (word.length > 0 && prefix <= seq.numOutputTokens && word.slice(0, prefix).every((id, i) => tokens[tokens.length - prefix + i] === id)) bans.push(word[prefix]);
  }
  for (const token of bans) edit(token).bias = -Infinity;
  t.biasTokenIds.forEach((token, i) => (edit(token).bias += t.biasValues[i]));
  const subtracts = p.frequencyPenalty !== 0 || p.presencePenalty !== 0;
  for (const [token, count] of history?.counts ?? []) {
    if (p.repetitionPenalty !== 1) edit(token).repetition = p.repetitionPenalty;
    if (subtracts && count > 0) edit(token).subtract = p.frequencyPenalty * count + p.presencePenalty;
  }
  return edits;
}

/**
 * Each distinct token of a sequence's prompt and output with its count in the output, brought up
 * to date with the tokens added since the last step (recounted if the history ever shrank), so a
 * step costs the distinct tokens, not the whole history.
 */
class HistoryCounts {
  readonly counts = new Map<number, number>();
  private counted = 0;

  update(seq: Sequence): this {
    if (seq.tokenIds.length < this.counted) {
      this.counts.clear();
      this.counted = 0;
    }
    for (; this.counted < seq.tokenIds.length; this.counted++) {
      const token = seq.tokenIds[this.counted];
      this.counts.set(token, (this.counts.get(token) ?? 0) + (this.counted >= seq.numPromptTokens ? 1 : 0));
    }
    return this;
  }
}

/** Flat CSR builder: offsets [rows + 1] into one values array. */
class CsrBuilder {
  readonly offsets: Int32Array;
  readonly values: number[] = [];
  private row = 0;
  constructor(numRows: number) {
    this.offsets = new Int32Array(numRows + 1);
  }
  push(items: Iterable<number>): void {
    for (const v of items) this.values.push(v);
    this.offsets[++this.row] = this.values.length;
  }
}

export class Sampler {
  private readonly addon: NativeSamplerAddon;
  private readonly vocabSize: number;
  private readonly tables = new WeakMap<Request, RequestTables>();
  private readonly histories = new WeakMap<Sequence, HistoryCounts>();

  /** Forces the end of a reasoning section whose thinking_token_budget is spent; null without a reasoning config. */
  private readonly thinking: ThinkingBudgets | null;

  constructor(addon: NativeSamplerAddon, vocabSize: number, thinking: ThinkingBudgets | null = null) {
    this.addon = addon;
    this.vocabSize = vocabSize;
    this.thinking = thinking;
  }

  /**
   * Whether a forward pass that samples `which` rows (ModelRunner.forwardSampling) takes this one:
   * it asks for no log-probs, no allowed_token_ids, no structured output and no thinking budget, its other logit processors come to at most
   * maxLogitEditsPerRow edits (counted from the request and its own history, so the same request
   * always goes the same way), and it is greedy if only greedy rows are taken.
   */
  samplesInForward({ seq }: SampleRow, which: "all" | "greedy"): boolean {
    const request = seq.request;
    const p = request.params;
    const t = this.tablesOf(request);
    const mostEdits = t.stopIds.length + request.badWordsTokenIds.length + t.biasTokenIds.length + (t.needsHistory ? seq.tokenIds.length : 0);
    const editable = numLogprobs(p) === null && t.allowedTokenIds.length === 0 && request.grammar === null && p.thinkingTokenBudget === null && mostEdits <= maxLogitEditsPerRow;
    return editable && (which === "all" || p.temperature < samplingEps);
  }

  /**
   * The parameters and logit edits of rows sampled where the logits are, in order. Rows sharing a
   * logits row are the n sequences forked from one prompt, whose edits are the same: the first of
   * them carries them, as the edits change the logits row itself.
   */
  deviceSampling(rows: readonly SampleRow[]): DeviceSampling {
    const n = rows.length;
    const edits = new CsrBuilder(n);
    const editValues: LogitEdit[] = [];
    const edited = new Set<number>();
    const sampling = { rowIndices: new Int32Array(n), temperature: new Float32Array(n), topK: new Int32Array(n), topP: new Float32Array(n), minP: new Float32Array(n), rng: new Uint32Array(4 * n) };
    rows.forEach((row, r) => {
      const p = row.seq.request.params;
      sampling.rowIndices[r] = row.logitsRow;
      sampling.temperature[r] = p.temperature;
      sampling.topK[r] = p.topK;
      sampling.topP[r] = p.topP;
      sampling.minP[r] = p.minP;
      writeRngKey(sampling.rng, r, row);
      const rowEdits = edited.has(row.logitsRow) ? new Map<number, LogitEdit>() : logitEdits(row.seq, this.tablesOf(row.seq.request), this.historyOf(row.seq));
      edited.add(row.logitsRow);
      edits.push(rowEdits.keys());
      editValues.push(...rowEdits.values());
    });
    return {
      ...sampling,
      editOffsets: edits.offsets,
      editTokenIds: Int32Array.from(edits.values),
      editBias: Float32Array.from(editValues, (e) => e.bias),
      editRepetition: Float32Array.from(editValues, (e) => e.repetition),
      editSubtract: Float32Array.from(editValues, (e) => e.subtract),
    };
  }

  sample(logits: Float32Array, rows: readonly SampleRow[]): SamplerOutput {
    const n = rows.length;
    if (n === 0) return { tokenIds: new Int32Array(0), logprobs: null };
    const history = new CsrBuilder(n);
    const bias = new CsrBuilder(n);
    const biasValues: number[] = [];
    const allowed = new AllowedRows(n);
    const banned = new CsrBuilder(n);
    const badWordOffsets = new Int32Array(n + 1);
    const badWordStarts: number[] = [0];
    const badWordTokens: number[] = [];
    const f32 = () => new Float32Array(n);
    const batch: NativeSampleBatch = {
      numRows: n,
      vocabSize: this.vocabSize,
      logits,
      rowIndices: new Int32Array(n),
      temperature: f32(),
      topP: f32(),
      topK: new Int32Array(n),
      minP: f32(),
      presencePenalty: f32(),
      frequencyPenalty: f32(),
      repetitionPenalty: f32(),
      rng: new Uint32Array(n * 4),
      historyOffsets: history.offsets,
      historyTokens: new Int32Array(0),
      promptLens: new Int32Array(n),
      biasOffsets: bias.offsets,
      biasTokenIds: new Int32Array(0),
      biasValues: new Float32Array(0),
      allowedOffsets: allowed.offsets,
      allowedTokenIds: new Int32Array(0),
      bannedOffsets: banned.offsets,
      bannedTokenIds: new Int32Array(0),
      badWordOffsets,
      badWordStarts: new Int32Array(0),
      badWordTokens: new Int32Array(0),
      numLogprobs: new Int32Array(n),
      logprobWidth: 0,
      sampledTokenIds: new Int32Array(n),
      logprobTokenIds: new Int32Array(0),
      logprobValues: new Float32Array(0),
      logprobRanks: new Int32Array(0),
    };
    // Slots per row: the sampled token, then the widest top-N or logprob_token_ids list.
    let width = 0;
    rows.forEach((row, r) => {
      const { seq, logitsRow } = row;
      const request = seq.request;
      const p = request.params;
      const t = this.tablesOf(request);
      batch.rowIndices[r] = logitsRow;
      batch.temperature[r] = p.temperature;
      batch.topP[r] = p.topP;
      batch.topK[r] = p.topK;
      batch.minP[r] = p.minP;
      batch.presencePenalty[r] = p.presencePenalty;
      batch.frequencyPenalty[r] = p.frequencyPenalty;
      batch.repetitionPenalty[r] = p.repetitionPenalty;
      writeRngKey(batch.rng, r, row);
      history.push(t.needsHistory ? seq.tokenIds : []);
      batch.promptLens[r] = t.needsHistory ? seq.numPromptTokens : 0;
      bias.push(t.biasTokenIds);
      biasValues.push(...t.biasValues);
      const forced = this.thinking?.forcedToken(seq) ?? null;
      allowed.push(forced === null ? allowedTokenIds(seq, t) : [forced]);
      // Once the constraint lets nothing but EOS follow, min_tokens cannot hold it back.
      const mustEnd = request.grammar?.mustEnd(seq.grammarState) ?? false;
      banned.push(seq.numOutputTokens < p.minTokens && !mustEnd ? t.stopIds : []);
      for (const word of request.badWordsTokenIds) {
        badWordTokens.push(...word);
        badWordStarts.push(badWordTokens.length);
      }
      badWordOffsets[r + 1] = badWordStarts.length - 1;
      // A logprob_token_ids row asks for the top-1 token, from which writeRequestedLogprobs reads the row's normalizer.
      const wanted = p.logprobTokenIds !== null ? 1 : p.logprobs === null ? -1 : p.logprobs < 0 ? this.vocabSize : p.logprobs;
      batch.numLogprobs[r] = wanted;
      width = Math.max(width, wanted + 1, p.logprobTokenIds === null ? 0 : p.logprobTokenIds.length + 1);
    });
    batch.historyTokens = Int32Array.from(history.values);
    batch.biasTokenIds = Int32Array.from(bias.values);
    batch.biasValues = Float32Array.from(biasValues);
    batch.allowedTokenIds = allowed.values();
    batch.bannedTokenIds = Int32Array.from(banned.values);
    batch.badWordStarts = Int32Array.from(badWordStarts);
    batch.badWordTokens = Int32Array.from(badWordTokens);
    batch.logprobWidth = width;
    batch.logprobTokenIds = new Int32Array(n * width);
    batch.logprobValues = new Float32Array(n * width);
    batch.logprobRanks = new Int32Array(n * width);
    this.addon.samplerSample(batch);
    const logprobs = width > 0 ? { width, tokenIds: batch.logprobTokenIds, logprobs: batch.logprobValues, ranks: batch.logprobRanks } : null;
    rows.forEach(({ seq, logitsRow }, r) => {
      const requested = seq.request.params.logprobTokenIds;
      if (requested !== null) writeRequestedLogprobs(logprobs!, r, logits.subarray(logitsRow * this.vocabSize, (logitsRow + 1) * this.vocabSize), requested);
    });
    return { tokenIds: batch.sampledTokenIds, logprobs };
  }

  /** The sequence's history counts, when its request's penalties need them. */
  private historyOf(seq: Sequence): HistoryCounts | undefined {
    if (!this.tablesOf(seq.request).needsHistory) return undefined;
    let history = this.histories.get(seq);
    if (history === undefined) this.histories.set(seq, (history = new HistoryCounts()));
    return history.update(seq);
  }

  private tablesOf(request: Request): RequestTables {
    let t = this.tables.get(request);
    if (t === undefined) {
      t = requestTables(request);
      this.tables.set(request, t);
    }
    return t;
  }

  /** Log-probs of known next tokens (prompt log-probs) under the raw logits rows given. */
  logprobsOf(logits: Float32Array, rowIndices: Int32Array, targetTokenIds: Int32Array, numLogprobs: number): LogprobTensors {
    const numRows = rowIndices.length;
    const topN = numLogprobs < 0 ? this.vocabSize : numLogprobs;
    const width = topN + 1;
    const out: LogprobTensors = {
      width,
      tokenIds: new Int32Array(numRows * width),
      logprobs: new Float32Array(numRows * width),
      ranks: new Int32Array(numRows * width),
    };
    this.addon.samplerLogprobs({
      numRows,
      vocabSize: this.vocabSize,
      logits,
      rowIndices,
      targetTokenIds,
      numLogprobs: topN,
      logprobTokenIds: out.tokenIds,
      logprobValues: out.logprobs,
      logprobRanks: out.ranks,
    });
    return out;
  }
}

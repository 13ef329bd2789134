// One structured-output constraint against one vocabulary: which tokens may come next from each
// automaton state, and the state after a token. A state's token list is computed the first time a
// sequence reaches it (every token's text walked through the automaton) and kept, so a request
// pays for each state once and requests with the same constraint share the work.
import { classOf, type RegexDfa } from "./regex-dfa.ts";
import type { TokenVocabulary } from "./token-vocabulary.ts";

/** The state of a sequence whose tokens left the automaton (only EOS can follow). */
export const deadState = -1;

export class StructuredOutputGrammar {
  readonly dfa: RegexDfa;
  private readonly vocab: TokenVocabulary;
  /** Each token's code points as character classes of this automaton (same offsets as the vocabulary). */
  private readonly tokenClasses: Int32Array;
  private readonly allowedByState = new Map<number, Int32Array>();
  private readonly nextByState = new Map<number, { eosTokenIds: readonly number[]; ids: Int32Array }>();

  constructor(dfa: RegexDfa, vocab: TokenVocabulary) {
    this.dfa = dfa;
    this.vocab = vocab;
    this.tokenClasses = vocab.codePoints.map((cp) => classOf(dfa, cp));
  }

  get initialState(): number {
    return 0;
  }

  /** The state after `tokenId`, or deadState when the automaton has no path for its text. */
  advance(state: number, tokenId: number): number {
    if (state < 0 || tokenId < 0 || tokenId >= this.vocab.vocabSize) return deadState;
    const { offsets } = this.vocab;
    if (offsets[tokenId] === offsets[tokenId + 1]) return deadState;
    return this.walk(state, offsets[tokenId], offsets[tokenId + 1]);
  }

  /** Whether the text so far is a whole match, so EOS may end it. */
  isAccepting(state: number): boolean {
    return state >= 0 && this.dfa.accepting[state] === 1;
  }

  /** Whether no token can follow, so the output must end (the match is whole, or the tokens left the automaton). */
  mustEnd(state: number): boolean {
    return this.allowedTokens(state).length === 0;
  }

  /** What the sampler may draw from `state`: the allowed tokens, plus EOS where the output may end (or must). */
  nextTokenIds(state: number, eosTokenIds: readonly number[]): Int32Array {
    const cached = this.nextByState.get(state);
    if (cached !== undefined && cached.eosTokenIds === eosTokenIds) return cached.ids;
    const allowed = this.allowedTokens(state);
    const ends = allowed.length === 0 || this.isAccepting(state);
    const ids = ends ? Int32Array.from([...allowed, ...eosTokenIds]) : allowed;
    this.nextByState.set(state, { eosTokenIds, ids });
    return ids;
  }

  /** The tokens whose whole text can be read from `state` (not counting EOS). */
  allowedTokens(state: number): Int32Array {
    if (state < 0 || !this.dfa.hasExit[state]) return new Int32Array(0);
    let allowed = this.allowedByState.get(state);
    if (allowed === undefined) {
      const { offsets, vocabSize } = this.vocab;
      const ids: number[] = [];
      for (let t = 0; t < vocabSize; t++) {
        if (offsets[t] < offsets[t + 1] && this.walk(state, offsets[t], offsets[t + 1]) >= 0) ids.push(t);
      }
      allowed = Int32Array.from(ids);
      this.allowedByState.set(state, allowed);
    }
    return allowed;
  }

  private walk(state: number, from: number, to: number): number {
    const { next, numClasses } = this.dfa;
    let s = state;
    for (let i = from; i < to && s >= 0; i++) s = next[s * numClasses + this.tokenClasses[i]];
    return s;
  }
}

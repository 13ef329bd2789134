// The engine's structured-output compiler: turns a request's constraint into a grammar over the
// model's vocabulary. The vocabulary's token texts are read once, at the first constrained
// request; grammars are kept by expression, so requests with the same schema share their
// automaton and every token list already computed for it.
import type { StructuredOutputsParams } from "../engine/types.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { constraintRegex } from "./constraint-regex.ts";
import { StructuredOutputGrammar } from "./grammar.ts";
import { compileRegexDfa } from "./regex-dfa.ts";
import { tokenVocabulary, type TokenVocabulary } from "./token-vocabulary.ts";

/** Grammars kept; the least recently used goes first. */
const maxCachedGrammars = 64;

export class StructuredOutputManager {
  private vocabulary: TokenVocabulary | null = null;
  private readonly grammars = new Map<string, StructuredOutputGrammar>();

  constructor(private readonly tokenizer: Tokenizer) {}

  /** The grammar for a constraint; throws TsvllmError (invalid argument) for one it cannot build. */
  grammarFor(params: StructuredOutputsParams): StructuredOutputGrammar {
    const { source, param } = constraintRegex(params);
    let grammar = this.grammars.get(source);
    if (grammar !== undefined) {
      this.grammars.delete(source);
    } else {
      this.vocabulary ??= tokenVocabulary(this.tokenizer);
      grammar = new StructuredOutputGrammar(compileRegexDfa(source, param), this.vocabulary);
      if (this.grammars.size >= maxCachedGrammars) this.grammars.delete(this.grammars.keys().next().value!);
    }
    this.grammars.set(source, grammar);
    return grammar;
  }
}

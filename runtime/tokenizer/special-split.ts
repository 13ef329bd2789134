// Splits text around special-token texts before the vocabulary model sees it, as llama.cpp's
// tokenizer_st_partition does: longest special texts first, every occurrence, left to right.

export type Fragment = { text: string } | { id: number };

export interface SpecialToken {
  id: number;
  text: string;
}

/** Orders special tokens as llama.cpp does: longer texts first, so "<|im_end|>" wins over "<|im". */
export function bySpecialPriority(tokens: SpecialToken[]): SpecialToken[] {
  return tokens.filter((token) => token.text.length > 0).sort((a, b) => b.text.length - a.text.length);
}

export function splitOnSpecialTokens(text: string, specials: readonly SpecialToken[]): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [{ text }] : [];
  for (const special of specials) {
    const next: Fragment[] = [];
    for (const fragment of fragments) {
      if (!("text" in fragment)) {
        next.push(fragment);
        continue;
      }
      let from = 0;
      for (let at = fragment.text.indexOf(special.text); at !== -1; at = fragment.text.indexOf(special.text, from)) {
        if (at > from) next.push({ text: fragment.text.slice(from, at) });
        next.push({ id: special.id });
        from = at + special.text.length;
      }
      if (from < fragment.text.length) next.push({ text: fragment.text.slice(from) });
    }
    fragments = next;
  }
  return fragments;
}

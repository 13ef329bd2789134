// A deterministic tokenizer test corpus: hand-picked edge cases plus strings assembled by a seeded
// generator from fragments that stress SentencePiece and byte-level BPE (spaces, byte fallback,
// scripts outside a small vocabulary, digits, punctuation, story prose).

/** Literal special-token texts: tokenized as the special tokens themselves on both sides. */
export const specialTokenStrings = ["<s>Once upon a time", "Hello</s>", "a <unk> b", "</s><s>", "<s> two  spaces"];

const handPicked = [
  "", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", " \n ", "a", "I", ".", "!", "?", "0", "7",
  "Hello world", " Hello world", "  Hello world", "Hello  world", "Hello world ", "Hello world  ",
  "Once upon a time, there was a little girl named Lily.",
  "She loved to play outside in the park with her friends.",
  "One day, Tim found a big red ball under the tree.",
  "\"Can I play too?\" asked the little dog.",
  "The end.\n\nOnce upon a time...",
  "line one\nline two\n  indented line\n\ttabbed line",
  "12345", "3.14159", "1,000,000", "2024-01-15", "phone: 555-0123", "x = 42 + 7 * (3 - 1)",
  "émigré", "naïve café", "Ünïcödé", "ñandú", "Crème brûlée", "São Paulo", "Zürich", "€100 and ™",
  "東京", "日本語のテキスト", "中文字符测试", "한국어", "Привет, мир!", "Γειά σου κόσμε", "مرحبا بالعالم", "שלום",
  "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "I ❤ tokenizers 🚀🚀", "emoji😀inside", "a\u00a0b", "a\u200ab", "zero\u200bwidth",
  "\u2581", "x\u2581y", "tab\tin\tthe\tmiddle", "trailing\n", "\nleading", "many      spaces", ".,;:!?-()[]{}",
  "'s 't 're 've 'm 'll 'd", "don't won't can't", "ALL CAPS TEXT", "MiXeD cAsE", "snake_case_name", "camelCaseName",
  "https://example.com/path?q=1&r=2", "user@example.com", "#hashtag @mention", "<html><body>hi</body></html>",
  "a\u0301 (combining accent)", "\uFEFFbom", "ﬁ ligature", "ℌ𝔢𝔩𝔩𝔬", "𝟙𝟚𝟛",
];

const fragments = [
  "Once", " upon", " a", " time", ",", " there", " was", " a little", " girl", " named", " Lily", ".", " She",
  " loved", " to", " play", " with", " her", " toys", " in", " the", " garden", "!", " \"", "\"", " said", " Mom",
  " happy", " sad", " big", " small", " dog", " cat", " ball", " sun", " tree",
  " ", "  ", "   ", "\n", "\n\n", "\t", " \t", "\r\n",
  "0", "1", "42", "123", "2024", "3.5", "99%",
  "é", "è", "à", "ü", "ö", "ñ", "ç", "ø", "å", "ß",
  "日", "本", "語", "東京", "中", "文", "한", "글", "Ж", "ж", "Ω", "λ", "ا", "ש",
  "😀", "🚀", "🎉", "❤", "👍🏽", "🐶",
  "?", "!", ".", ",", ";", ":", "-", "(", ")", "'", "...", "--",
];

// A linear congruential generator (Numerical Recipes constants): the corpus is the same on every
// run and machine, and no quality beyond "varied" is needed.
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

function generated(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const strings: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = 1 + Math.floor(random() * 12);
    let text = "";
    for (let j = 0; j < length; j++) text += fragments[Math.floor(random() * fragments.length)];
    strings.push(text);
  }
  return strings;
}

/** Every corpus string without special-token text (handPicked first, then 200 generated ones). */
export function tokenizerCorpus(): string[] {
  return [...handPicked, ...generated(200, 20240601)];
}

/** Strings whose decode(encode(s)) cannot equal s: U+2581 is SentencePiece's escaped space. */
export function canRoundTrip(text: string): boolean {
  return !text.includes("\u2581");
}

// Streamed text is held back while its end may still grow into a tag (a tool call's or the end of
// the reasoning): tokens split tags anywhere, and a tag sent as text cannot be taken back.

/** The length of the longest end of `text` that is the start, but not the whole, of `tag`. */
export function partialTagLength(text: string, tag: string): number {
  for (let keep = Math.min(tag.length - 1, text.length); keep > 0; keep--) {
    if (text.endsWith(tag.slice(0, keep))) return keep;
  }
  return 0;
}

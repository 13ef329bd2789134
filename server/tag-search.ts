// Finding a tag in an answer while it streams: the text only grows between readings, so each search
// goes on from where the last one left off, and a block a tag closes never ends inside a possible
// start of that tag.
import { partialTagLength } from "./partial-tag.ts";

export class TagSearch {
  private from = 0;
  constructor(readonly tag: string) {}

  /** Where the tag is, at or after `start`; -1 while it is not in the text. */
  find(text: string, start: number): number {
    const at = text.indexOf(this.tag, Math.max(start, this.from));
    this.from = at >= 0 ? at : Math.max(start, text.length - this.tag.length + 1);
    return at;
  }

  /** Where a block this tag closes ends in the text so far: at the tag (found at `at`), or before a possible start of it until the answer is whole. */
  blockEnd(text: string, at: number, final: boolean): number {
    return at >= 0 ? at : final ? text.length : text.length - partialTagLength(text, this.tag);
  }
}

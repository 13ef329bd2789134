// The merge loop shared by SentencePiece BPE (spm.ts) and byte-level BPE (gpt2-bpe.ts), as llama.cpp
// runs both: starting from single characters, repeatedly merge the adjacent pair with the highest
// priority (ties: the leftmost pair) until no adjacent pair can merge. A queued pair goes stale when
// either side has merged since; the stale entry is skipped when it comes out of the queue.
import { PriorityQueue } from "./priority-queue.ts";

interface Piece {
  /** UTF-16 offset of the piece in the text; merged pieces stay contiguous. */
  start: number;
  length: number;
  prev: number;
  next: number;
}

interface Candidate {
  left: number;
  right: number;
  priority: number;
  /** Combined length when queued: a mismatch later means a side has merged since. */
  length: number;
}

/**
 * Splits `text` into the pieces left when merging stops. `priorityOf(left, right)` is the priority
 * of merging two adjacent pieces, or undefined when they cannot merge.
 */
export function mergeAdjacentPieces(text: string, priorityOf: (left: string, right: string) => number | undefined): string[] {
  const pieces: Piece[] = [];
  let offset = 0;
  for (const char of text) {
    pieces.push({ start: offset, length: char.length, prev: pieces.length - 1, next: pieces.length + 1 });
    offset += char.length;
  }
  if (pieces.length === 0) return [];
  pieces[pieces.length - 1].next = -1;
  const textOf = (piece: Piece): string => text.substr(piece.start, piece.length);

  const queue = new PriorityQueue<Candidate>((a, b) => a.priority > b.priority || (a.priority === b.priority && a.left < b.left));
  const consider = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const priority = priorityOf(textOf(pieces[left]), textOf(pieces[right]));
    if (priority !== undefined) queue.push({ left, right, priority, length: pieces[left].length + pieces[right].length });
  };
  for (let i = 1; i < pieces.length; i++) consider(i - 1, i);

  for (let candidate = queue.pop(); candidate; candidate = queue.pop()) {
    const left = pieces[candidate.left];
    const right = pieces[candidate.right];
    if (left.length === 0 || right.length === 0 || left.length + right.length !== candidate.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) pieces[right.next].prev = candidate.left;
    consider(left.prev, candidate.left);
    consider(candidate.left, left.next);
  }

  const result: string[] = [];
  for (let i = 0; i !== -1; i = pieces[i].next) result.push(textOf(pieces[i]));
  return result;
}

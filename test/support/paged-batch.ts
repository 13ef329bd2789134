// Paged-KV batches for attention tests: sequences of given lengths whose blocks are scattered over
// the cache in a shuffled order, with the last `queries[s]` positions of each sequence as this
// step's query tokens (1 = decode, more = a prefill chunk).
import { Global } from "../../dsl/global.ts";

export interface Batch {
  blockTables: Global;
  seqIdx: Global;
  positions: Global;
  slotMapping: Global;
  numBlocks: number;
}

/** Sequences of the given lengths; the last `queries[s]` positions of each are this step's queries. */
export function makeBatch(lengths: number[], queries: number[], BS: number): Batch {
  const maxBlocks = Math.max(...lengths.map((l) => Math.ceil(l / BS)));
  const numBlocks = lengths.reduce((a, l) => a + Math.ceil(l / BS), 0) + 3;
  const order = Array.from({ length: numBlocks }, (_, i) => (i * 7 + 3) % numBlocks);
  const blockTables = new Global("i32", [lengths.length, maxBlocks]);
  let next = 0;
  lengths.forEach((l, s) => {
    for (let b = 0; b < maxBlocks; b++) blockTables.put(s, b, b < Math.ceil(l / BS) ? order[next++] : -1);
  });
  const T = queries.reduce((a, b) => a + b, 0);
  const seqIdx = new Global("i32", [T]);
  const positions = new Global("i32", [T]);
  const slotMapping = new Global("i32", [T]);
  let t = 0;
  lengths.forEach((l, s) => {
    for (let p = l - queries[s]; p < l; p++, t++) {
      seqIdx.put(t, s);
      positions.put(t, p);
      slotMapping.put(t, blockTables.at(s, Math.floor(p / BS)) * BS + (p % BS));
    }
  });
  return { blockTables, seqIdx, positions, slotMapping, numBlocks };
}

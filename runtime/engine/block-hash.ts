// Chained block hashes for automatic prefix caching: a block's hash covers its parent's hash, its
// own token ids and (first block only, which chains into all) an optional cache salt, so equal
// hashes mean equal whole prefixes. SHA-256 as vLLM's default, so collisions are not a concern.
import { createHash } from "node:crypto";

export function hashBlockTokens(parentHash: string | null, tokenIds: readonly number[], start: number, end: number, salt: string | null): string {
  const h = createHash("sha256");
  if (parentHash !== null) h.update(parentHash);
  else if (salt !== null) h.update(`salt:${salt}`);
  const tokens = Int32Array.from(tokenIds.slice(start, end));
  h.update(new Uint8Array(tokens.buffer));
  return h.digest("base64");
}

// Embeddings from a pooling model (vLLM's embedding runner, LLM.embed, /v1/embeddings): the
// forward pass returns the final hidden state of each prompt's last token (its logits row), and a
// prompt's embedding is that state scaled to unit length, vLLM's default pooler for decoder models
// (pooling type LAST, normalize true), so that cosine similarity is a dot product.

/** The last token's hidden state, divided by its Euclidean norm (in float64). */
export function lastTokenEmbedding(hidden: Float32Array): number[] {
  let squares = 0;
  for (const v of hidden) squares += v * v;
  const norm = Math.sqrt(squares);
  return Array.from(hidden, (v) => (norm > 0 ? v / norm : 0));
}

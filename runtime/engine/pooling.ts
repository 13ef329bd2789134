// How a pooling model turns a prompt's final hidden states into its embedding (vLLM's embedding
// pooler): a sequence pooling type picks the states (LAST: the last token's, vLLM's default for
// decoder models; CLS: the first token's; MEAN: the average over every prompt token), Matryoshka
// `dimensions` keep the first values, and `normalize` scales the result to unit length, so that
// cosine similarity is a dot product. The settings come from the checkpoint's sentence-transformers
// files (runtime/loader/pooler-config.ts) under what the user overrides (vLLM's pooler_config).
import { TsvllmError } from "../errors.ts";

/** vLLM's PoolingTask, of those served here: an embedding, or a sequence classifier's class probabilities. */
export type PoolingTask = "embed" | "classify";

/** What a pooling request asks of a pooling model, as every layer from the front ends to the engine passes it on. */
export interface PoolingRequestFields {
  /** A pooling request, for a pooling model (ModelRunner.poolingWidth); generation requests need a generative one. */
  pooling?: boolean;
  /** vLLM's PoolingParams.task: "embed" (the default) needs an embedding model, "classify" a sequence classifier. */
  poolingTask?: PoolingTask;
  /** An embedding request's Matryoshka size: its first this many values (the model must allow it, dimensionsError). */
  dimensions?: number | null;
  /** vLLM's use_activation: normalize an embedding, or put a classifier's activation on its logits; null or absent: the model's (poolerConfig.normalize). */
  useActivation?: boolean | null;
}

/** Just the pooling fields of a request's options, to pass on to the next layer. */
export function poolingFields({ pooling, poolingTask, dimensions, useActivation }: PoolingRequestFields): PoolingRequestFields {
  return { pooling, poolingTask, dimensions, useActivation };
}

/** vLLM's SequencePoolingType. */
export type PoolingType = "LAST" | "CLS" | "MEAN";
export const poolingTypes: readonly PoolingType[] = ["LAST", "CLS", "MEAN"];

/** vLLM's PoolerConfig, camelCased: each field left out keeps the checkpoint's (or the default) setting. */
export interface PoolerConfig {
  poolingType?: PoolingType;
  /** Scale embeddings to unit length, or put a classifier's activation on its logits (vLLM's normalize, now use_activation). */
  normalize?: boolean;
}

/** What a checkpoint's files say about pooling; absent fields say nothing. */
export interface CheckpointPooling extends PoolerConfig {
  /** config.json's matryoshka_dimensions: the only sizes `dimensions` may ask for; null: any. */
  matryoshkaDimensions: number[] | null;
  /** config.json's is_matryoshka, or any matryoshka_dimensions: `dimensions` is allowed. */
  isMatryoshka: boolean;
}

export type ModelPooling = Required<PoolerConfig> & Pick<CheckpointPooling, "matryoshkaDimensions" | "isMatryoshka">;

/** A decoder model without sentence-transformers files: its last token's state, normalized. */
export const defaultPooling: ModelPooling = Object.freeze({ poolingType: "LAST", normalize: true, matryoshkaDimensions: null, isMatryoshka: false });

/** As vLLM resolves a pooling model's config: the user's fields, then the checkpoint's, then the defaults. */
export function resolvePooling(user: PoolerConfig | undefined, checkpoint: CheckpointPooling | null): ModelPooling {
  const poolingType = user?.poolingType ?? checkpoint?.poolingType ?? defaultPooling.poolingType;
  if (!poolingTypes.includes(poolingType)) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `poolerConfig.poolingType must be one of ${poolingTypes.join(", ")}; got ${JSON.stringify(poolingType)}`, "pooler_config");
  }
  return {
    poolingType,
    normalize: user?.normalize ?? checkpoint?.normalize ?? defaultPooling.normalize,
    matryoshkaDimensions: checkpoint?.matryoshkaDimensions ?? null,
    isMatryoshka: checkpoint?.isMatryoshka ?? false,
  };
}

/**
 * Why `dimensions` cannot be served by this model (vLLM's PoolingParams checks and messages), or
 * null when it can; `model` names the model in the message (null: "This model").
 */
export function dimensionsError(pooling: ModelPooling, dimensions: number, model: string | null): string | null {
  if (!pooling.isMatryoshka) return `${model === null ? "This model" : `Model "${model}"`} does not support matryoshka representation, changing output dimensions will lead to poor results.`;
  const allowed = pooling.matryoshkaDimensions;
  if (allowed !== null && !allowed.includes(dimensions)) return `${model === null ? "This model" : `Model '${model}'`} only supports [${allowed.join(", ")}] matryoshka dimensions, use other output dimensions will lead to poor results.`;
  if (!Number.isInteger(dimensions) || dimensions < 1) return "Dimensions must be greater than 0";
  return null;
}

/** The pooled state (in float64) as an embedding: its first `dimensions` values, at unit length when normalize. */
export function finishEmbedding(pooled: Float64Array, normalize: boolean, dimensions: number | null): number[] {
  const kept = dimensions === null ? pooled : pooled.subarray(0, dimensions);
  if (!normalize) return Array.from(kept);
  let squares = 0;
  for (const v of kept) squares += v * v;
  const norm = Math.sqrt(squares);
  return Array.from(kept, (v) => (norm > 0 ? v / norm : 0));
}

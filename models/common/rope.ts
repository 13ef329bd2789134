// RoPE inverse frequencies with Hugging Face's rope_scaling variants, computed once at load time and
// handed to the ropeNeox / ropeGptj kernels (dsl/kernels/rope.ts) with the cos/sin multiplier mscale.
// Unscaled (Su et al. 2021): invFreq[i] = theta^(-2i / rotaryDim), i < rotaryDim / 2.
//   linear:  invFreq / factor (position interpolation, Chen et al. 2023).
//   dynamic: NTK-aware base at a sequence length L beyond the original context Lo:
//            theta' = theta * (factor * L / Lo - (factor - 1))^(rotaryDim / (rotaryDim - 2)); unscaled for L <= Lo.
//   llama3:  wavelengths 2pi / invFreq above Lo / lowFreqFactor divided by factor, below Lo / highFreqFactor
//            kept, and in between blended by s = (Lo / wavelength - low) / (high - low).
//   yarn:    (Peng et al. 2023) per-dim blend of interpolated (invFreq / factor) and extrapolated
//            frequencies, with a linear ramp over the dims whose rotations in Lo fall between betaSlow
//            and betaFast (dims floored/ceiled as transformers does unless the config says truncate
//            false, as GPT-OSS's do); mscale = attentionFactor, by default 0.1 ln(factor) + 1.
//   longrope: (Ding et al. 2024, Phi-3.5/Phi-4-mini) invFreq[i] / factor[i], the long factors when the
//            engine's max_model_len exceeds the original context, else the short ones (vLLM decides
//            once, by max_model_len, as llama.cpp does by its context size; transformers by each
//            forward's length); mscale = attentionFactor.
// Computed in float64 and rounded once to f32, as the kernels read f32.
import { TsvllmError } from "../../runtime/errors.ts";
import type { ModelConfig } from "../../runtime/loader/types.ts";

export interface RopeFrequencies {
  invFreq: Float32Array;
  /** Multiplies cos and sin (YaRN's attention factor); 1 for every other variant. */
  mscale: number;
}

function unscaled(theta: number, rotaryDim: number): Float64Array {
  return Float64Array.from({ length: rotaryDim / 2 }, (_, i) => theta ** (-(2 * i) / rotaryDim));
}

/** The dim index (fractional) whose frequency makes `rotations` full turns over `context` positions. */
function correctionDim(rotations: number, rotaryDim: number, theta: number, context: number): number {
  return (rotaryDim * Math.log(context / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
}

/**
 * Inverse frequencies for the first `rotaryDim` dims of a head. `seqLen` only matters for dynamic
 * NTK scaling (the sequence length the cache is built for); it defaults to the original context.
 * `maxModelLen` picks LongRoPE's factors; it defaults to max_position_embeddings, as vLLM's max_model_len.
 */
export function ropeInvFreq(config: ModelConfig, rotaryDim: number, seqLen?: number, maxModelLen = config.maxPositionEmbeddings): RopeFrequencies {
  const theta = config.ropeTheta;
  const base = unscaled(theta, rotaryDim);
  const scaling = config.ropeScaling;
  const done = (freqs: Float64Array, mscale = 1): RopeFrequencies => ({ invFreq: Float32Array.from(freqs), mscale });
  if (!scaling) return done(base);
  switch (scaling.ropeType) {
    case "linear":
      return done(base.map((f) => f / scaling.factor));
    case "dynamic": {
      const original = scaling.originalMaxPositionEmbeddings;
      const length = seqLen !== undefined && seqLen > original ? seqLen : original;
      const scaledTheta = theta * ((scaling.factor * length) / original - (scaling.factor - 1)) ** (rotaryDim / (rotaryDim - 2));
      return done(unscaled(scaledTheta, rotaryDim));
    }
    case "llama3": {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
      return done(
        base.map((f) => {
          const wavelength = (2 * Math.PI) / f;
          if (wavelength < original / highFreqFactor) return f;
          if (wavelength > original / lowFreqFactor) return f / factor;
          const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
          return (1 - smooth) * (f / factor) + smooth * f;
        }),
      );
    }
    case "yarn": {
      const { factor, betaFast, betaSlow, originalMaxPositionEmbeddings: original, truncate } = scaling;
      const [lowDim, highDim] = [correctionDim(betaFast, rotaryDim, theta, original), correctionDim(betaSlow, rotaryDim, theta, original)];
      const low = Math.max(truncate ? Math.floor(lowDim) : lowDim, 0);
      const high = Math.min(truncate ? Math.ceil(highDim) : highDim, rotaryDim - 1);
      const span = low === high ? 0.001 : high - low;
      const freqs = base.map((f, i) => {
        const interpolationWeight = Math.min(Math.max((i - low) / span, 0), 1);
        return (f / factor) * interpolationWeight + f * (1 - interpolationWeight);
      });
      const mscale = scaling.attentionFactor ?? (factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1);
      return done(freqs, mscale);
    }
    case "longrope": {
      const factors = maxModelLen > scaling.originalMaxPositionEmbeddings ? scaling.longFactor : scaling.shortFactor;
      if (factors.length !== base.length) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${config.architecture}: LongRoPE has ${factors.length} factors for ${base.length} rotated pairs`, "rope_scaling");
      return done(base.map((f, i) => f / factors[i]), scaling.attentionFactor);
    }
  }
}

/** The key of Gemma-3's table for its sliding-window layers (RotaryOptions.key); every model has "default". */
export const localRopeKey = "local";

/**
 * Every RoPE table the model's attention may name, by key: "default" (ropeTheta, scaled), and for
 * Gemma-3 "local" (rope_local_base_freq, never scaled, as transformers builds its local rotary embedding).
 */
export function ropeTables(config: ModelConfig, rotaryDim: number, maxModelLen?: number): Record<string, RopeFrequencies> {
  const tables: Record<string, RopeFrequencies> = { default: ropeInvFreq(config, rotaryDim, undefined, maxModelLen) };
  if (config.ropeLocalTheta !== undefined) tables[localRopeKey] = ropeInvFreq({ ...config, ropeTheta: config.ropeLocalTheta, ropeScaling: null }, rotaryDim);
  return tables;
}

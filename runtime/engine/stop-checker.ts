// Appending a sampled token and deciding whether its sequence is done, with vLLM's rules and
// order: the length cap first, then (once minTokens are out, or a structured-output constraint
// lets nothing else follow) EOS and stop token ids, then (past minTokens) repetition_detection's
// patterns, then stop strings, which are searched only where the new text could complete one, so a
// stop string split over several tokens is still found.
import { repetitionStopReason } from "./repetition-detector.ts";
import type { Sequence } from "./sequence.ts";

/** Appends tokenId to the sequence, extends its text and finishes it when a stop condition holds. */
export function appendTokenAndCheckStop(seq: Sequence, tokenId: number, maxModelLen: number): void {
  const request = seq.request;
  const p = request.params;
  seq.tokenIds.push(tokenId);
  if (request.grammar !== null && !request.eosTokenIds.includes(tokenId)) seq.grammarState = request.grammar.advance(seq.grammarState, tokenId);
  const numOutput = seq.numOutputTokens;
  // Every token goes through the detector, so its runs stay whole while minTokens hold it back.
  const repeated = seq.repetitionDetector?.push(seq.tokenIds, seq.numPromptTokens) ?? false;
  if (seq.numTokens >= maxModelLen || numOutput >= request.maxOutputTokens) {
    seq.finish("length");
  } else if (numOutput >= p.minTokens || (request.grammar?.mustEnd(seq.grammarState) ?? false)) {
    if (!p.ignoreEos && request.eosTokenIds.includes(tokenId)) seq.finish("stop");
    else if (p.stopTokenIds.includes(tokenId)) seq.finish("stop", tokenId);
    else if (repeated && numOutput >= p.minTokens) seq.finish("repetition", repetitionStopReason);
  }
  // The text of a stop token is left out unless the user asked to keep stop strings.
  const stoppedByToken = seq.finishReason === "stop";
  if (stoppedByToken && !p.includeStopStrInOutput) return;
  const newText = seq.detokenizer.push(tokenId);
  seq.outputText = seq.detokenizer.text;
  if (newText.length === 0 || p.stop.length === 0 || numOutput <= p.minTokens) return;
  const match = findStopString(seq.outputText, newText.length, p.stop, p.includeStopStrInOutput);
  if (match === null) return;
  seq.outputText = seq.outputText.slice(0, match.textEnd);
  seq.finish("stop", match.stop);
}

/**
 * The first stop string (in the user's order) that ends inside the newest newCharCount characters;
 * textEnd is where the output text is cut: before the stop string, or after it when it is kept.
 */
export function findStopString(text: string, newCharCount: number, stops: readonly string[], includeInOutput: boolean): { stop: string; textEnd: number } | null {
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const from = Math.max(0, text.length - newCharCount - stop.length + 1);
    const at = text.indexOf(stop, from);
    if (at < 0) continue;
    return { stop, textEnd: includeInOutput ? at + stop.length : at };
  }
  return null;
}

/**
 * Text safe to show before the sequence ends: while stop strings are active, the last
 * (longest stop - 1) characters are held back, as they may be the start of a stop string.
 */
export function visibleOutputText(seq: Sequence): string {
  const p = seq.request.params;
  if (seq.isFinished || p.stop.length === 0 || p.includeStopStrInOutput) return seq.outputText;
  const holdBack = Math.max(...p.stop.map((s) => s.length)) - 1;
  return seq.outputText.slice(0, Math.max(0, seq.outputText.length - holdBack));
}

// The machine's reference limits for a benchmark run (docs/PERF.md: measure them in the same run and
// report results as fractions of them). Compiles roofline.c into build/bench/ on first use (or when
// the source is newer) and runs it. As a script, prints the JSON:
//   npx tsx bench/reference/roofline.ts [array MiB] [repetitions]

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface MachineReference {
  /** fp32 FMA peak (chains in registers, AVX-512 where the target has it, else AVX2), GFLOP/s, with 1 and 2 threads. */
  fmaPeakGflops: { t1: number; t2: number };
  /** Streaming read bandwidth over an array far larger than L3, GB/s (10^9 bytes), with 1 and 2 threads: the best repetition. */
  readBandwidthGBs: { t1: number; t2: number };
  /** The same reads' rate over all repetitions together: what a workload streaming that many bytes
   *  again and again gets, where the best repetition catches a lull in other tenants' traffic. */
  sustainedReadGBs: { t1: number; t2: number };
}

export interface RooflineOptions {
  /** Size of the array the bandwidth is read from; defaults to 512 MiB (16x the 32 MiB L3). */
  arrayMiB?: number;
  /** Best of this many repetitions; defaults to 5. */
  repetitions?: number;
}

const source = fileURLToPath(new URL("./roofline.c", import.meta.url));
const repoRoot = join(dirname(source), "..", "..");
const binary = join(repoRoot, "build", "bench", "roofline");

function compileIfStale(): void {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return;
  mkdirSync(dirname(binary), { recursive: true });
  execFileSync("gcc", ["-O3", "-march=native", "-fopenmp", source, "-o", binary], { stdio: ["ignore", "inherit", "inherit"] });
}

function runRoofline(options: RooflineOptions, readOnly: boolean): MachineReference {
  compileIfStale();
  const args = [String(options.arrayMiB ?? 512), String(options.repetitions ?? 5), ...(readOnly ? ["read"] : [])];
  const output = execFileSync(binary, args, {
    encoding: "utf8",
    // Idle OpenMP workers sleep instead of spinning, so a 1-thread measurement has the other core to
    // itself (docs/PERF.md: on 2 cores, no busy-waiting threads).
    env: { ...process.env, OMP_WAIT_POLICY: "passive" },
  });
  return JSON.parse(output) as MachineReference;
}

export const measureMachineReference = (options: RooflineOptions = {}): MachineReference => runRoofline(options, false);

/** The read bandwidth alone (no FMA peak): a probe of a second or two to take right beside a timed run. */
export const measureReadBandwidth = (options: RooflineOptions = {}): Omit<MachineReference, "fmaPeakGflops"> => {
  const { readBandwidthGBs, sustainedReadGBs } = runRoofline(options, true);
  return { readBandwidthGBs, sustainedReadGBs };
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [arrayMiB, repetitions] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(measureMachineReference({ arrayMiB, repetitions })));
}

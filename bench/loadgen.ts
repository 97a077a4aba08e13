/**
 * Load generator process: `deno run --allow-net=127.0.0.1 bench/loadgen.ts '<spec JSON>'` (or the
 * same file bundled for Node). Talks to the runner by lines: prints {"ev":"ready"} once its
 * clients are connected, waits for "go" on stdin, runs its mode, prints {"ev":"done",...}; idle
 * mode then holds its connections until "close" and prints {"ev":"closed",...}. Any failure is
 * printed as {"ev":"error","message":...} with exit status 1. Only ever connects to 127.0.0.1.
 */

import process from "node:process";
import { type FloodSpec, setupFlood } from "./lg_flood.ts";
import { type BigSpec, setupBig } from "./lg_big.ts";
import {
  type IdleSpec,
  type P2pSpec,
  type RetainedSpec,
  setupIdle,
  setupP2p,
  setupRetained,
} from "./lg_modes.ts";

/** Any mode's spec. */
export type LoadSpec = FloodSpec | P2pSpec | IdleSpec | RetainedSpec | BigSpec;

function emit(obj: Record<string, unknown>): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(JSON.stringify(obj) + "\n", () => resolve())
  );
}

const lines: string[] = [];
let lineWaiter: (() => void) | null = null;
let stdinBuf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  stdinBuf += chunk;
  let nl: number;
  while ((nl = stdinBuf.indexOf("\n")) >= 0) {
    lines.push(stdinBuf.slice(0, nl).trim());
    stdinBuf = stdinBuf.slice(nl + 1);
  }
  lineWaiter?.();
});
// The runner going away (stdin closed) ends the load generator.
process.stdin.on("end", () => process.exit(3));

async function expectLine(word: string): Promise<void> {
  for (;;) {
    const l = lines.shift();
    if (l === word) return;
    if (l !== undefined) throw new Error(`expected "${word}" on stdin, got "${l}"`);
    await new Promise<void>((r) => (lineWaiter = r));
    lineWaiter = null;
  }
}

async function main(): Promise<void> {
  const arg = process.argv[process.argv.length - 1];
  const spec = JSON.parse(arg ?? "{}") as LoadSpec;
  if (spec.mode === "idle") {
    const idle = setupIdle(spec);
    await emit({ ev: "ready" });
    await expectLine("go");
    await emit({ ev: "done", ...(await idle.go()) });
    await expectLine("close");
    await emit({ ev: "closed", ...idle.close() });
    return;
  }
  let run: () => Promise<object>;
  if (spec.mode === "flood") run = await setupFlood(spec);
  else if (spec.mode === "p2p") run = await setupP2p(spec);
  else if (spec.mode === "retained") run = setupRetained(spec);
  else if (spec.mode === "big") run = await setupBig(spec);
  else throw new Error(`unknown mode in ${arg}`);
  await emit({ ev: "ready" });
  await expectLine("go");
  await emit({ ev: "done", ...(await run()) });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await emit({ ev: "error", message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);

/**
 * Loopback round trip of one small frame between two processes, node:net against Deno's own
 * sockets (Deno.connect / Deno.listen) on both ends, interleaved: what a node link's socket costs
 * (docs/cluster.md, "Third pass on the hop"). Each round starts an echo process of one kind and
 * sends it `--count` frames of 160 bytes one at a time, `--gap` ms apart.
 *
 * `deno run -A bench/link_rtt.ts [--rounds N] [--count N] [--gap MS]`
 */

import { connect, createServer } from "node:net";

const FRAME = 160;
type Kind = "node:net" | "Deno.Conn";

/** The echo side: prints its port, echoes every read. */
async function echo(kind: Kind): Promise<void> {
  if (kind === "node:net") {
    const server = createServer((s) => {
      s.setNoDelay(true);
      s.on("data", (b: Uint8Array) => s.write(b));
    });
    server.listen(0, "127.0.0.1", () => console.log((server.address() as { port: number }).port));
    return;
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((listener.addr as Deno.NetAddr).port);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    void (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        await conn.write(buf.subarray(0, n));
      }
    })();
  }
}

/** Round trips (µs) of `count` frames to an echo of `kind` on `port`. */
async function ping(kind: Kind, port: number, count: number, gap: number): Promise<number[]> {
  const frame = new Uint8Array(FRAME).fill(7);
  const out: number[] = [];
  const pause = () => gap > 0 ? new Promise((r) => setTimeout(r, gap)) : Promise.resolve();
  if (kind === "node:net") {
    const s = connect({ host: "127.0.0.1", port });
    s.setNoDelay(true);
    await new Promise((r) => s.once("connect", r));
    let got = 0;
    let back = () => {};
    s.on("data", (b: Uint8Array) => {
      got += b.length;
      if (got >= FRAME) {
        got -= FRAME;
        back();
      }
    });
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      const p = new Promise<void>((r) => (back = r));
      s.write(frame);
      await p;
      out.push((performance.now() - t) * 1000);
      await pause();
    }
    s.destroy();
    return out;
  }
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await conn.write(frame);
    for (let got = 0; got < FRAME;) got += (await conn.read(buf)) ?? FRAME;
    out.push((performance.now() - t) * 1000);
    await pause();
  }
  conn.close();
  return out;
}

if (Deno.args[0] === "--echo") {
  await echo(Deno.args[1] as Kind);
} else {
  const args = new Map<string, string>();
  for (let i = 0; i < Deno.args.length; i += 2) args.set(Deno.args[i]!, Deno.args[i + 1] ?? "");
  const rounds = Number(args.get("--rounds") ?? 5);
  const count = Number(args.get("--count") ?? 2000);
  const gap = Number(args.get("--gap") ?? 1);
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const got: Partial<Record<Kind, number>> = {};
    for (const kind of ["node:net", "Deno.Conn"] as const) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--echo", kind],
        stdout: "piped",
      }).spawn();
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      const port = Number(new TextDecoder().decode(value).trim());
      got[kind] = p50(await ping(kind, port, count, gap));
      child.kill("SIGTERM");
      reader.releaseLock();
      await child.stdout.cancel();
      await child.status;
    }
    ratios.push(got["Deno.Conn"]! / got["node:net"]!);
    console.log(
      `round ${r + 1}: round trip p50 node:net ${got["node:net"]!.toFixed(1)} µs, Deno.Conn ` +
        `${got["Deno.Conn"]!.toFixed(1)} µs, ratio ${ratios.at(-1)!.toFixed(2)}`,
    );
  }
  console.log(`Deno.Conn / node:net, median of ${rounds} rounds: ${p50(ratios).toFixed(2)}`);
}

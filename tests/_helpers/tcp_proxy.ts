/**
 * Test helper: a TCP proxy between two cluster nodes that can cut the network (stop forwarding
 * in both directions while keeping the sockets open, and swallow new connections: a netsplit as
 * the nodes see it) and heal it (drop the stalled connections, forward again), or hold the bytes
 * for a while and release them in order (a slow link). Owns its listener
 * and sockets; bounded: at most 64 connections.
 */

interface Pair {
  readonly client: Deno.TcpConn;
  readonly server: Deno.TcpConn | null;
}

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** Stops forwarding: bytes stay where they are, new connections get nothing. */
  cut(): void;
  /** Closes the stalled connections; new ones are forwarded again. */
  heal(): void;
  /** Stops forwarding but keeps what comes (in both directions), nothing lost. */
  hold(): void;
  /** Forwards what was held, in order, and goes on forwarding. */
  release(): void;
  close(): Promise<void>;
}

const MAX_PAIRS = 64;

/** Starts a proxy on 127.0.0.1 (random port) to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Pair>();
  let cut = false;
  let held = false;
  let closed = false;
  const closePair = (p: Pair) => {
    pairs.delete(p);
    for (const c of [p.client, p.server]) {
      try {
        c?.close();
      } catch { /* closed already */ }
    }
  };
  const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, p: Pair) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        // While cut, nothing is read: the sender's kernel buffers fill, nothing arrives.
        while (cut && pairs.has(p)) await new Promise((r) => setTimeout(r, 20));
        if (!pairs.has(p)) return;
        const n = await from.read(buf);
        if (n === null) break;
        if (cut) continue; // read just before the cut: dropped, as a dead network would
        while (held && pairs.has(p)) await new Promise((r) => setTimeout(r, 20));
        let at = 0;
        while (at < n) at += await to.write(buf.subarray(at, n));
      }
    } catch { /* either side closed */ }
    closePair(p);
  };
  void (async () => {
    for await (const client of listener) {
      if (closed) break;
      if (pairs.size >= MAX_PAIRS) {
        client.close();
        continue;
      }
      if (cut) {
        // Swallowed: the dialler waits for a HELLO that never comes.
        pairs.add({ client, server: null });
        continue;
      }
      try {
        const server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        const p = { client, server };
        pairs.add(p);
        void pump(client, server, p);
        void pump(server, client, p);
      } catch {
        client.close();
      }
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut() {
      cut = true;
    },
    heal() {
      for (const p of [...pairs]) closePair(p);
      cut = false;
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
    },
    async close() {
      closed = true;
      listener.close();
      for (const p of [...pairs]) closePair(p);
      await Promise.resolve();
    },
  };
}

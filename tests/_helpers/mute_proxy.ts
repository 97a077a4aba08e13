/**
 * Test helper: a TCP proxy in front of one MQTT port that can stop passing the broker's bytes to
 * the client (the client's still pass), noting the packet types it drops: a client cut off
 * mid-flow, its acks or the broker's lost on the way. Owns its listener and connections.
 */

/** A proxy to one MQTT port that can stop passing the broker's bytes to the client. */
export interface MuteProxy {
  readonly port: number;
  /** From now on the broker's bytes are dropped (the client's still pass). */
  mute(): void;
  /** Packet types (the fixed header's high nibble) dropped since mute(). */
  readonly dropped: number[];
  close(): void;
}

export function startMuteProxy(targetPort: number): MuteProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.TcpConn[] = [];
  let muted = false;
  const dropped: number[] = [];
  let pendingDrop = new Uint8Array(0);
  /** Splits the dropped bytes into MQTT packets and notes their types. */
  const noteDropped = (chunk: Uint8Array) => {
    const all = new Uint8Array(pendingDrop.length + chunk.length);
    all.set(pendingDrop);
    all.set(chunk, pendingDrop.length);
    let at = 0;
    for (;;) {
      if (at + 2 > all.length) break;
      let len = 0, mul = 1, i = at + 1;
      for (; i < all.length; i++) {
        len += (all[i]! & 0x7f) * mul;
        mul *= 128;
        if ((all[i]! & 0x80) === 0) break;
      }
      if (i >= all.length || i + 1 + len > all.length) break;
      dropped.push(all[at]! >> 4);
      at = i + 1 + len;
    }
    pendingDrop = all.slice(at);
  };
  const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, down: boolean) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        if (down && muted) {
          noteDropped(buf.slice(0, n));
          continue;
        }
        let at = 0;
        while (at < n) at += await to.write(buf.subarray(at, n));
      }
    } catch { /* closed */ }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  };
  void (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      conns.push(client, server);
      void pump(client, server, false);
      void pump(server, client, true);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    mute() {
      muted = true;
    },
    dropped,
    close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

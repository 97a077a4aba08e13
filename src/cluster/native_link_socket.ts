/**
 * Plain TCP node links on Deno's own sockets (`Deno.connect`, `Deno.listen`) instead of node:net,
 * behind the few Socket members a PeerLink uses (LinkSocket). Why: a link carries every forwarded
 * message, and a loopback round trip of one small frame between two processes took 0.70-0.94 of
 * node:net's time with Deno.Conn on both ends (docs/cluster.md, "Third pass on the hop"): the read
 * goes straight into one reused buffer, without node:net's stream machinery and a fresh Buffer per
 * read. TLS links keep node:tls (client certificates need it). Lives in the supervisor isolate,
 * like every socket; owns its Deno.Conn, its read buffer and its queue of writes.
 */

/** What a PeerLink uses of its socket; node:net's (and node:tls's) Socket has it too. */
export interface LinkSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /** Bytes handed to write() and not yet taken by the kernel. */
  readonly writableLength: number;
  setNoDelay(noDelay?: boolean): unknown;
  once(event: "connect", listener: () => void): unknown;
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  write(bytes: Uint8Array): unknown;
  end(): unknown;
  destroy(): unknown;
}

/**
 * One read's buffer. A frame that fits in it is handed on as a view of it (valid during the
 * callback, as FrameDecoder promises); it stays below SHARE_MIN (src/ipc/_fragments.ts), so a
 * message in it is always copied into a ring, never parked there by reference.
 */
const READ_BUFFER = 64 * 1024;

type Listener = (...args: never[]) => void;

/** A node link over a Deno.Conn; see the file header. */
export class NativeLinkSocket implements LinkSocket {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  #conn: Deno.TcpConn | null = null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #ending = false;
  #closed = false;
  #onData: (chunk: Uint8Array) => void = () => {};
  #onError: (err: Error) => void = () => {};
  #onClose: () => void = () => {};
  #onDrain: () => void = () => {};
  #onConnect: () => void = () => {};

  /** An accepted connection. */
  static accepted(conn: Deno.TcpConn): NativeLinkSocket {
    const s = new NativeLinkSocket();
    s.#attach(conn);
    return s;
  }

  /** Dials `host:port`; frames written meanwhile wait for the connection. */
  static dial(host: string, port: number): NativeLinkSocket {
    const s = new NativeLinkSocket();
    Deno.connect({ hostname: host, port }).then((conn) => {
      if (s.#closed) {
        conn.close();
        return;
      }
      s.#attach(conn);
      s.#onConnect();
      s.#pump();
    }, (err) => s.#fail(err));
    return s;
  }

  get writableLength(): number {
    return this.#queued;
  }

  setNoDelay(noDelay = true): this {
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  once(event: "connect", listener: () => void): this {
    if (event === "connect") this.#onConnect = listener;
    return this;
  }

  on(event: "data", listener: (chunk: Uint8Array) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: "close" | "drain", listener: () => void): this;
  on(event: "data" | "error" | "close" | "drain", listener: Listener): this {
    if (event === "data") this.#onData = listener as (chunk: Uint8Array) => void;
    else if (event === "error") this.#onError = listener as (err: Error) => void;
    else if (event === "close") this.#onClose = listener as () => void;
    else this.#onDrain = listener as () => void;
    return this;
  }

  /** Queues `bytes` (kept by reference until written: the caller must not change them). */
  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ending || bytes.length === 0) return !this.#closed;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#pump();
    return true;
  }

  /** Writes what is queued, then closes the write side. */
  end(): this {
    if (this.#closed || this.#ending) return this;
    this.#ending = true;
    this.#pump();
    return this;
  }

  destroy(): this {
    this.#close();
    return this;
  }

  #attach(conn: Deno.TcpConn): void {
    this.#conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = addr.hostname;
    this.remotePort = addr.port;
    conn.setNoDelay(true);
    void this.#readLoop(conn);
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(READ_BUFFER);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (this.#closed) return;
        if (n === null) break;
        this.#onData(buf.subarray(0, n));
      }
    } catch (err) {
      if (!this.#closed) this.#fail(err);
      return;
    }
    this.#close();
  }

  /**
   * Writes the queue in order, one write at a time. The first write of a quiet link starts in
   * this turn: Deno polls a new op once at once, so the bytes reach the kernel before write()
   * returns when the socket has room (no event loop turn on the node hop's path).
   */
  #pump(): void {
    const conn = this.#conn;
    if (this.#writing || conn === null || this.#closed) return;
    if (this.#queue.length === 0) {
      if (this.#ending) {
        this.#ending = false;
        conn.closeWrite().catch(() => {});
      }
      return;
    }
    this.#writing = true;
    const head = this.#queue[0]!;
    conn.write(head).then((n) => {
      this.#writing = false;
      if (this.#closed) return;
      this.#queued -= n;
      if (n < head.length) this.#queue[0] = head.subarray(n);
      else this.#queue.shift();
      if (this.#queue.length === 0) this.#onDrain();
      this.#pump();
    }, (err) => {
      this.#writing = false;
      if (!this.#closed) this.#fail(err);
    });
  }

  #fail(err: unknown): void {
    this.#onError(err instanceof Error ? err : new Error(String(err)));
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn?.close();
    } catch {
      // Already closed by the peer's end.
    }
    this.#onClose();
  }
}

/** A plain TCP listener for node links; `accepted` gets each connection. */
export function listenNative(
  host: string,
  port: number,
  accepted: (socket: NativeLinkSocket) => void,
): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  void (async () => {
    try {
      for await (const conn of listener) accepted(NativeLinkSocket.accepted(conn));
    } catch {
      // The listener was closed (the node stops).
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  };
}

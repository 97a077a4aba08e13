/**
 * LinkSocket: the few socket members a PeerLink uses, so a link does not depend on which socket
 * carries it. node:net's and node:tls's Socket have them all. Owns nothing.
 * @module
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

/**
 * Who a client is and what it asks for: the two shapes every decision takes. Owned by
 * src/auth/. Types only, importing nothing, so that every module of the folder can use them
 * without an import cycle.
 */

/** What the broker knows about a connecting client, as handed to authentication. */
export interface ClientInfo {
  readonly clientId: string;
  readonly username?: string | undefined;
  readonly password?: Uint8Array | undefined;
  /** Peer IP address as text ("127.0.0.1", "::1"). */
  readonly peerhost: string;
  readonly peerport: number;
  /** Listener id "<type>:<name>", e.g. "tcp:default". */
  readonly listener: string;
  /** The listener's zone ("default" unless it names one). */
  readonly zone: string;
  /** 3, 4 or 5. */
  readonly protocolVersion: number;
  readonly certCommonName?: string | undefined;
  readonly certSubject?: string | undefined;
  /** A browser cookie offered by a WebSocket upgrade (cookie authentication). */
  readonly cookie?: string | undefined;
  readonly isSuperuser?: boolean | undefined;
}

/** The action being authorized. */
export interface AuthzAction {
  readonly type: "publish" | "subscribe";
  /** Topic name (publish) or topic filter (subscribe; without the $share/ prefix, as EMQX). */
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

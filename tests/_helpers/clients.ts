/**
 * Test helper: real MQTT clients (npm:mqtt) for the integration suites, and client ids that hash
 * to a chosen shard.
 *
 * Owns each client's inbox: every PUBLISH a client receives is queued from the moment the client
 * is created, so messages that arrive in the same read as the CONNACK are never lost to a test
 * that attaches its listener late. Knows nothing of the broker's internals except the documented
 * shard rule, which lives in placement.ts and is re-exported here.
 */

import {
  connect as mqttConnect,
  type IClientOptions,
  type IClientPublishOptions,
  type IClientSubscribeOptions,
  type IConnackPacket,
  type IDisconnectPacket,
  type IPublishPacket,
  type ISubscriptionGrant,
  type MqttClient,
} from "mqtt";

export {
  clientIdForShard,
  fnv1a32,
  partitionOf,
  PARTITIONS,
  shardOfKey,
  topicForShard,
} from "./placement.ts";

/** One PUBLISH as a subscriber saw it. */
export interface Received {
  topic: string;
  /** Payload decoded as UTF-8. */
  payload: string;
  packet: IPublishPacket;
}

interface Inbox {
  queue: Received[];
  wake: (() => void) | null;
  connack: IConnackPacket | null;
  disconnect: IDisconnectPacket | null;
  errors: Error[];
  closed: boolean;
  onClose: Promise<void>;
}

const inboxes = new WeakMap<MqttClient, Inbox>();

/** Options for connect(): npm:mqtt's options with the protocol version made explicit. */
export type ConnectOptions = IClientOptions & {
  protocolVersion: 4 | 5 | 3;
  /** Bound for the whole connect; default 10 s. */
  timeoutMs?: number;
};

function inboxOf(client: MqttClient): Inbox {
  const inbox = inboxes.get(client);
  if (!inbox) throw new TypeError("Cannot use this client: it was not created by connect()");
  return inbox;
}

/** Creates the client and its inbox; does not wait for the CONNACK. */
function createClient(url: string, opts: ConnectOptions): MqttClient {
  const { timeoutMs: _t, ...rest } = opts;
  const client = mqttConnect(url, {
    reconnectPeriod: 0,
    connectTimeout: opts.timeoutMs ?? 10_000,
    keepalive: 30,
    ...rest,
  });
  let markClosed: () => void = () => {};
  const inbox: Inbox = {
    queue: [],
    wake: null,
    connack: null,
    disconnect: null,
    errors: [],
    closed: false,
    onClose: new Promise<void>((resolve) => markClosed = resolve),
  };
  inboxes.set(client, inbox);
  client.on("message", (topic, payload, packet) => {
    inbox.queue.push({ topic, payload: new TextDecoder().decode(payload), packet });
    inbox.wake?.();
  });
  client.on("connect", (packet) => inbox.connack = packet);
  client.on("disconnect", (packet) => inbox.disconnect = packet);
  client.on("error", (err) => inbox.errors.push(err));
  client.on("close", () => {
    inbox.closed = true;
    markClosed();
    inbox.wake?.();
  });
  return client;
}

/**
 * Connects a client (reconnectPeriod 0) and resolves once the broker accepted it with a CONNACK.
 * Rejects when the broker refuses (CONNACK error), closes the connection, or after timeoutMs.
 */
export async function connect(url: string, opts: ConnectOptions): Promise<MqttClient> {
  const client = createClient(url, opts);
  const inbox = inboxOf(client);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`No CONNACK within ${timeoutMs} ms (${opts.clientId})`)),
        timeoutMs,
      );
      client.once("connect", () => resolve());
      client.once("error", (err) => reject(err));
      inbox.onClose.then(() =>
        reject(new Error(`Connection closed before CONNACK (${opts.clientId ?? "no id"})`))
      );
    });
  } catch (err) {
    await destroy(client);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** The CONNACK the broker answered with. */
export function connackOf(client: MqttClient): IConnackPacket {
  const c = inboxOf(client).connack;
  if (!c) throw new Error("No CONNACK received");
  return c;
}

/** The DISCONNECT the broker sent (MQTT 5), if any. */
export function disconnectOf(client: MqttClient): IDisconnectPacket | null {
  return inboxOf(client).disconnect;
}

/** True once the client's network connection closed. */
export function isClosed(client: MqttClient): boolean {
  return inboxOf(client).closed;
}

/** Resolves once the client's connection is closed; rejects after timeoutMs. */
export async function waitClosed(client: MqttClient, timeoutMs: number): Promise<void> {
  const inbox = inboxOf(client);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      inbox.onClose,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Connection still open after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(msgs: readonly Received[]): string {
  if (msgs.length === 0) return "nothing";
  return msgs.map((m) =>
    `${m.topic} "${
      m.payload.slice(0, 40)
    }" qos=${m.packet.qos} retain=${m.packet.retain} dup=${m.packet.dup}`
  ).join("; ");
}

/** Rejects with `what` after ms unless p settles first. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Publishes and waits for the handshake of its QoS to finish (PUBACK/PUBCOMP), at most ms. */
export async function publish(
  client: MqttClient,
  topic: string,
  payload: string,
  opts: IClientPublishOptions,
  ms = 10_000,
): Promise<void> {
  await bounded(client.publishAsync(topic, payload, opts), ms, `PUBLISH to ${topic}`);
}

/** Subscribes and waits for the SUBACK, at most ms. Rejects when the SUBACK refuses. */
export async function subscribe(
  client: MqttClient,
  filter: string,
  opts: IClientSubscribeOptions,
  ms = 10_000,
): Promise<ISubscriptionGrant[]> {
  return await bounded(client.subscribeAsync(filter, opts), ms, `SUBSCRIBE to ${filter}`);
}

/**
 * Takes the next n messages from the client's inbox, waiting at most timeoutMs for them.
 * Rejects with what did arrive when fewer came.
 */
export async function collect(
  client: MqttClient,
  n: number,
  timeoutMs: number,
): Promise<Received[]> {
  const inbox = inboxOf(client);
  const deadline = Date.now() + timeoutMs;
  while (inbox.queue.length < n) {
    const left = deadline - Date.now();
    if (left <= 0 || inbox.closed) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      inbox.wake = resolve;
      timer = setTimeout(resolve, left);
    });
    clearTimeout(timer);
    inbox.wake = null;
  }
  if (inbox.queue.length < n) {
    const got = inbox.queue.splice(0);
    const why = inbox.closed ? "connection closed" : `${timeoutMs} ms passed`;
    throw new Error(`Expected ${n} message(s), ${why} with ${got.length}: ${describe(got)}`);
  }
  return inbox.queue.splice(0, n);
}

/**
 * Waits (at most timeoutMs) for a message that satisfies pred, removes it from the inbox and
 * returns it; the other messages stay queued. Rejects listing what arrived when none matched.
 */
export async function takeMatching(
  client: MqttClient,
  pred: (m: Received) => boolean,
  timeoutMs: number,
): Promise<Received> {
  const inbox = inboxOf(client);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = inbox.queue.findIndex(pred);
    if (i >= 0) return inbox.queue.splice(i, 1)[0] as Received;
    const left = deadline - Date.now();
    if (left <= 0 || inbox.closed) {
      const why = inbox.closed ? "connection closed" : `${timeoutMs} ms passed`;
      throw new Error(
        `No matching message: ${why}; queued ${inbox.queue.length}: ${
          describe(inbox.queue.slice(-10))
        }`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      inbox.wake = resolve;
      timer = setTimeout(resolve, left);
    });
    clearTimeout(timer);
    inbox.wake = null;
  }
}

/** Waits ms and fails if any message arrived meanwhile (or was already queued). */
export async function expectNone(client: MqttClient, ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const got = inboxOf(client).queue.splice(0);
  if (got.length > 0) {
    throw new Error(`Expected no message, got ${got.length}: ${describe(got)}`);
  }
}

/** Waits ms and returns (and removes) everything that arrived by then. */
export async function drain(client: MqttClient, ms: number): Promise<Received[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return inboxOf(client).queue.splice(0);
}

/** Sends DISCONNECT and closes; forces the close if that takes longer than 5 s. */
export async function disconnect(client: MqttClient): Promise<void> {
  const inbox = inboxOf(client);
  if (inbox.closed && client.disconnected) {
    await destroy(client);
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    client.endAsync().then(() => true, () => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 5_000)),
  ]);
  clearTimeout(timer);
  if (!ended) await destroy(client);
}

/** Closes the socket without DISCONNECT (an abnormal close, as far as the broker can tell). */
export async function destroy(client: MqttClient): Promise<void> {
  const inbox = inboxOf(client);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
    new Promise<void>((resolve) => timer = setTimeout(resolve, 5_000)),
  ]);
  clearTimeout(timer);
  if (!inbox.closed) {
    await Promise.race([
      inbox.onClose,
      new Promise<void>((resolve) => timer = setTimeout(resolve, 2_000)),
    ]);
    clearTimeout(timer);
  }
}

/** Closes every client given, ignoring those already closed. For `finally` blocks. */
export async function closeAll(clients: readonly (MqttClient | null | undefined)[]): Promise<void> {
  await Promise.all(clients.map((c) => c ? disconnect(c).catch(() => {}) : Promise.resolve()));
}

/** A short random tag that keeps topics and ids of one run apart from another's. */
export function runTag(): string {
  return Math.random().toString(36).slice(2, 8).replace(/[^0-9a-z]/g, "x");
}

/** Sleeps ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * CONNECT [MQTT-3.1]: protocol checks, client id rules, then authentication — an enhanced method
 * when the CONNECT names one (the exchange continues in handlers/auth.ts), otherwise the
 * `client.authenticate` hook, whose callbacks may answer later (the channel then holds the
 * client's next packets until the answer) — then will validation, session open or takeover,
 * CONNACK with the server's limits, and the resend of a resumed session's inflight.
 */

import type { AuthStep } from "../../auth/mod.ts";
import type { IConnectPacket } from "../../mqtt/mod.ts";
import { asBuffer, fromWill, MqttError, ReasonCode, validateTopicName } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";
import type { AuthnDecision } from "../hooks.ts";
import { finishMove, importSession, type MovedSession } from "../_session_move.ts";
import type { Session } from "../session.ts";

const NEVER = 0xFFFFFFFF;

/** Handles the first packet of a connection. */
export function handleConnect(ch: Channel, p: IConnectPacket): void {
  const mqtt = ch.svc.config.mqtt;
  const level = p.protocolVersion ?? 4;
  const protocolVersion = level === 5 ? 5 : level === 3 ? 3 : 4;
  const clean = p.clean !== false;
  // mqtt.peer_cert_as_username: the certificate's name replaces the CONNECT's user name.
  const username = ch.connInfo.usernameOverride || p.username;
  // mqtt.peer_cert_as_clientid: the TLS certificate's id wins over the CONNECT's (the
  // supervisor placed the connection by it already).
  let clientId = ch.connInfo.clientIdOverride || (p.clientId ?? "");
  let assigned = false;
  if (clientId === "") {
    // 3.1 forbids an empty id; 3.1.1 allows it only with clean session [MQTT-3.1.3-7/-8].
    if (protocolVersion === 3 || (protocolVersion === 4 && !clean)) {
      ch.identify({ protocolVersion, clientId, assigned, username });
      throw new MqttError(
        ReasonCode.ClientIdentifierNotValid,
        "Empty client id needs clean session",
      );
    }
    clientId = ch.assignedClientId || `culex-${crypto.randomUUID().replaceAll("-", "")}`;
    assigned = true;
  }
  ch.identify({ protocolVersion, clientId, assigned, username });
  // MQTT 5.0 3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
  if (
    p.properties?.authenticationData !== undefined &&
    p.properties.authenticationMethod === undefined
  ) {
    throw new MqttError(ReasonCode.ProtocolError, "Authentication Data without a method");
  }
  if (clientId.length > mqtt.maxClientidLen || (protocolVersion === 3 && clientId.length > 23)) {
    throw new MqttError(ReasonCode.ClientIdentifierNotValid, "Client id is too long");
  }
  const hooks = ch.svc.hooks;
  if (hooks.has("client.connect")) hooks.run("client.connect", ch.facts());
  const refused = ch.svc.admit(ch.facts());
  if (refused) throw new MqttError(refused.reasonCode, refused.reason);
  const methodName = p.properties?.authenticationMethod;
  if (methodName !== undefined) {
    const method = ch.svc.authMethods.get(methodName);
    if (!method) {
      throw new MqttError(ReasonCode.BadAuthenticationMethod, `No method "${methodName}"`);
    }
    ch.beginAuth({ method, state: null, pendingConnect: p });
    const data = p.properties?.authenticationData;
    runAuthStep(ch, method.start(authContext(ch), data ? new Uint8Array(data) : undefined));
    return;
  }
  const enableAuthn = ch.connInfo.enableAuthn;
  if (enableAuthn === false) {
    // The listener's enable_authn = false: anyone may connect (EMQX), no authenticator asked.
    afterAuthn(ch, p, { result: "ignore" });
    return;
  }
  if (enableAuthn === "quick_deny_anonymous" && username === undefined) {
    throw new MqttError(ReasonCode.NotAuthorized, "anonymous clients are refused on this listener");
  }
  const credentials = { password: p.password ? new Uint8Array(p.password) : undefined };
  const decision = hooks.fold("client.authenticate", { result: "ignore" }, ch.facts(), credentials);
  if (decision instanceof Promise) ch.suspendUntil(decision, (d) => afterAuthn(ch, p, d));
  else afterAuthn(ch, p, decision);
}

/** What an enhanced authentication method is told about the client. */
export function authContext(ch: Channel) {
  return { clientId: ch.clientId, username: ch.username, peer: ch.peer };
}

/** The chain's answer: "ignore" from every callback means no authenticator cared (anonymous). */
function afterAuthn(ch: Channel, p: IConnectPacket, d: AuthnDecision): void {
  if (d.result === "deny") throw new MqttError(d.reasonCode, d.reason);
  if (d.result === "allow") ch.authenticated(d.superuser, { acl: d.acl, expireAt: d.expireAt });
  else ch.authenticated(false);
  completeConnect(ch, p, undefined);
}

/** Runs one step of an enhanced method, now or when a method that does I/O answers. */
export function runAuthStep(ch: Channel, step: AuthStep | Promise<AuthStep>): void {
  if (step instanceof Promise) ch.suspendUntil(step, (s) => applyAuthStep(ch, s));
  else applyAuthStep(ch, step);
}

/**
 * Runs the outcome of one authentication step: another challenge (AUTH 0x18), the CONNACK (or
 * AUTH 0x00 after re-authentication), or a refusal.
 */
function applyAuthStep(ch: Channel, step: AuthStep): void {
  const auth = ch.auth!;
  if (step.kind === "failure") throw new MqttError(step.reasonCode, step.reason);
  const properties = {
    authenticationMethod: auth.method.name,
    ...(step.data ? { authenticationData: asBuffer(step.data) } : {}),
  };
  if (step.kind === "continue") {
    auth.state = step.state;
    ch.awaitAuthStep();
    ch.send({ cmd: "auth", reasonCode: ReasonCode.ContinueAuthentication, properties });
    return;
  }
  auth.state = null;
  const pending = auth.pendingConnect;
  if (pending) {
    auth.pendingConnect = null;
    ch.authenticated(step.superuser === true);
    completeConnect(ch, pending, properties);
  } else {
    ch.send({ cmd: "auth", reasonCode: ReasonCode.Success, properties }); // re-authenticated
  }
}

/**
 * The keepalive the connection is held to: MQTT 5 Server Keep Alive (mqtt.server_keepalive)
 * overrides the client's [MQTT-3.2.2-21]; mqtt.max_keepalive caps a longer one, and 0 (none),
 * as Mosquitto's max_keepalive does; shorter ones are honoured.
 */
export function agreedKeepalive(asked: number, v5: boolean, server: number, max: number): number {
  const k = v5 && server > 0 ? server : asked;
  return max > 0 && (k === 0 || k > max) ? max : k;
}

/** Everything after authentication: will, session, CONNACK. */
function completeConnect(
  ch: Channel,
  p: IConnectPacket,
  authProps: Record<string, unknown> | undefined,
): void {
  const { config, registry, log, clock } = ch.svc;
  const mqtt = config.mqtt;
  const v5 = ch.protocolVersion === 5;
  const clean = p.clean !== false;
  const clientId = ch.clientId;
  const now = clock.now();
  if (p.will) {
    const w = p.will;
    validateTopicName(w.topic, mqtt.maxTopicLevels);
    const qos = (w.qos ?? 0) as 0 | 1 | 2;
    if (qos > mqtt.maxQosAllowed) {
      throw new MqttError(ReasonCode.QoSNotSupported, `Will QoS ${qos} is not supported`);
    }
    if (w.retain && !mqtt.retainAvailable) {
      throw new MqttError(ReasonCode.RetainNotSupported, "Retained wills are not supported");
    }
    const delayMs = (w.properties?.willDelayInterval ?? 0) * 1000;
    ch.setWill({ message: fromWill(p, clientId, now)!, delayMs });
  }

  // Session expiry: 3.x persistent sessions use the configured bound; MQTT 5 asks, capped by it.
  let expiryMs: number;
  const asked = v5 ? p.properties?.sessionExpiryInterval ?? 0 : 0;
  if (v5) {
    expiryMs = asked === NEVER ? Infinity : asked * 1000;
    expiryMs = Math.min(expiryMs, mqtt.sessionExpiryInterval);
  } else {
    expiryMs = clean ? 0 : mqtt.sessionExpiryInterval;
  }
  const keepalive = agreedKeepalive(p.keepalive ?? 0, v5, mqtt.serverKeepalive, mqtt.maxKeepalive);
  const receiveMaximum = p.properties?.receiveMaximum ?? 65535;

  // A persistent session may live on another node: fetch it first (takeover across nodes;
  // the client's later packets wait behind this CONNECT).
  const nodes = ch.svc.broker.nodes;
  if (!clean && nodes.enabled && !registry.get(clientId)) {
    ch.suspendUntil(nodes.fetchSession(clientId), (moved) => {
      if (moved !== null) {
        log.info("Client {clientId}: session moved from {node}", { clientId, node: moved.from });
      }
      openSession(moved && JSON.parse(moved.body) as MovedSession, clock.now(), moved?.from);
    });
    return;
  }
  openSession(null, now);

  function openSession(moved: MovedSession | null, at: number, from?: string): void {
    const mark = ch.svc.store?.mark() ?? 0; // what the store had before this CONNECT
    const { session, present: here } = registry.open(ch, clean, expiryMs, ch.protocolVersion);
    if (moved) {
      importSession(ch.svc.broker, session, moved, at, ch.svc.store);
      // What reaches this session before the old node's pendings is newer than them: held.
      if (from) session.hold();
    }
    registry.storeRow(session, true, ch.will); // durable mode, persistent session: its row
    if (moved && from) endTakeover(session, from);
    connected(ch, p, {
      session,
      present: here || moved !== null,
      clean,
      v5,
      asked,
      expiryMs,
      keepalive,
      receiveMaximum,
      now: at,
      authProps,
      mark,
    });
  }

  /**
   * TAKEOVER_END once the routes are on their way (this shard's route records went to the
   * supervisor before this one, and it sends them to every peer first); the pendings are
   * delivered in a later pass of the shard's loop.
   */
  function endTakeover(session: Session, from: string): void {
    ch.svc.work.await(nodes.endTakeover(from, clientId), (outcome) => {
      if (registry.get(clientId) !== session) {
        session.endHold();
        return;
      }
      const n = finishMove(session, outcome.ok ? outcome.value : null, clock.now());
      log.info("Client {clientId}: takeover from {node} ended, {n} pending messages", {
        clientId,
        node: from,
        n,
      });
    });
  }
}

/** What completeConnect() decided, for the CONNACK. */
interface Opened {
  readonly session: Session;
  readonly present: boolean;
  readonly clean: boolean;
  readonly v5: boolean;
  readonly asked: number;
  readonly expiryMs: number;
  readonly keepalive: number;
  readonly receiveMaximum: number;
  readonly now: number;
  readonly authProps: Record<string, unknown> | undefined;
  /** The store's mark before the session was opened (durable mode waits for its commit). */
  readonly mark: number;
}

/** Binds the session, sends CONNACK, resumes the session. */
function connected(ch: Channel, p: IConnectPacket, o: Opened): void {
  const { config, log, clock } = ch.svc;
  const mqtt = config.mqtt;
  const { session, present, clean, v5, asked, expiryMs, keepalive, receiveMaximum, now } = o;
  const authProps = o.authProps;
  const clientId = ch.clientId;
  const store = ch.svc.store;
  const mark = o.mark;
  ch.establish({
    session,
    keepalive,
    keepaliveMs: Math.round(keepalive * 1000 * mqtt.keepaliveMultiplier),
    cleanStart: clean,
    clientMaxPacketSize: p.properties?.maximumPacketSize ?? 0,
    clientTopicAliasMax: p.properties?.topicAliasMaximum ?? 0,
    connectSessionExpiry: asked,
    connectedAt: now,
  });

  const props: Record<string, unknown> = {};
  if (v5) {
    props.topicAliasMaximum = mqtt.maxTopicAlias;
    props.receiveMaximum = Math.min(mqtt.maxAwaitingRel || 65535, 65535);
    props.maximumPacketSize = mqtt.maxPacketSize;
    props.retainAvailable = mqtt.retainAvailable;
    props.wildcardSubscriptionAvailable = mqtt.wildcardSubscription;
    props.subscriptionIdentifiersAvailable = true;
    props.sharedSubscriptionAvailable = mqtt.sharedSubscription;
    if (mqtt.maxQosAllowed < 2) props.maximumQoS = mqtt.maxQosAllowed;
    if (ch.assignedId) props.assignedClientIdentifier = clientId;
    if (authProps) Object.assign(props, authProps);
    if (mqtt.serverKeepalive > 0 || keepalive !== (p.keepalive ?? 0)) {
      props.serverKeepAlive = keepalive; // the client must use it [MQTT-3.2.2-21]
    }
    if (p.properties?.requestResponseInformation && mqtt.responseInformation !== "") {
      props.responseInformation = mqtt.responseInformation; // [MQTT-3.1.2-28]
    }
    const granted = expiryMs === Infinity ? NEVER : Math.floor(expiryMs / 1000);
    if (granted !== asked) props.sessionExpiryInterval = granted; // tell the client what it got
  }
  const finish = () => {
    ch.sendConnack(ReasonCode.Success, present, v5 ? props : undefined);
    log.debug("Connected {clientId} ({peer}) v{version} clean={clean} present={present}", {
      clientId,
      peer: ch.peer,
      version: ch.protocolVersion,
      clean,
      present,
    });
    ch.svc.hooks.run("client.connected", ch.facts());
    session.attach(ch, receiveMaximum);
    if (present) session.resume(clock.now());
  };
  const durable = session.durable;
  if (!store || (!store.wroteSince(mark) && (!durable || durable.relLoaded))) {
    finish();
    return;
  }
  // Durable mode: CONNACK once the session's row is committed, and for a session loaded from
  // the store, once its QoS 2 ids awaiting PUBREL are back (a resent PUBLISH is not delivered
  // twice [MQTT-4.3.3]). The client's next packets wait meanwhile (suspendUntil holds them).
  const waits: Promise<unknown>[] = [store.committed()];
  if (durable && !durable.relLoaded) {
    waits.push(
      store.readAsync({ kind: "awaitingRel", sid: durable.sid }).then((rels) => {
        for (const r of rels) session.awaitRel(r.packetId, r.receivedAt);
        durable.relLoaded = true;
      }),
    );
  }
  ch.suspendUntil(Promise.all(waits), finish);
}

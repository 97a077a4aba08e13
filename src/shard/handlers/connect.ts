/**
 * CONNECT [MQTT-3.1]: protocol checks, client id rules, enhanced authentication when a method is
 * named (the exchange continues in handlers/auth.ts), will validation, session open or takeover,
 * CONNACK with the server's limits, then resend of a resumed session's inflight.
 */

import type { AuthStep } from "../../auth/mod.ts";
import type { IConnectPacket } from "../../mqtt/mod.ts";
import { asBuffer, fromWill, MqttError, ReasonCode, validateTopicName } from "../../mqtt/mod.ts";
import type { Channel } from "../channel.ts";

const NEVER = 0xFFFFFFFF;

/** Handles the first packet of a connection. */
export function handleConnect(ch: Channel, p: IConnectPacket): void {
  const mqtt = ch.host.config.mqtt;
  const version = p.protocolVersion ?? 4;
  ch.protocolVersion = version === 5 ? 5 : version === 3 ? 3 : 4;
  const clean = p.clean !== false;

  // mqtt.peer_cert_as_clientid (issue 12): the TLS certificate's id wins over the CONNECT's.
  let clientId = ch.connInfo.clientIdOverride || (p.clientId ?? "");
  let assigned = false;
  if (clientId === "") {
    // 3.1 forbids an empty id; 3.1.1 allows it only with clean session [MQTT-3.1.3-7/-8].
    if (ch.protocolVersion === 3 || (ch.protocolVersion === 4 && !clean)) {
      throw new MqttError(
        ReasonCode.ClientIdentifierNotValid,
        "Empty client id needs clean session",
      );
    }
    clientId = ch.assignedClientId || `culex-${crypto.randomUUID().replaceAll("-", "")}`;
    assigned = true;
  }
  if (clientId.length > mqtt.maxClientidLen || (ch.protocolVersion === 3 && clientId.length > 23)) {
    throw new MqttError(ReasonCode.ClientIdentifierNotValid, "Client id is too long");
  }
  ch.clientId = clientId;
  ch.username = ch.connInfo.usernameOverride || p.username; // mqtt.peer_cert_as_username
  ch.assignedId = assigned;
  const methodName = p.properties?.authenticationMethod;
  if (methodName !== undefined) {
    const method = ch.host.authMethods.get(methodName);
    if (!method) {
      throw new MqttError(ReasonCode.BadAuthenticationMethod, `No method "${methodName}"`);
    }
    ch.auth = { method, state: null, pendingConnect: p };
    const data = p.properties?.authenticationData;
    applyAuthStep(ch, method.start(ch.authContext(), data ? new Uint8Array(data) : undefined));
    return;
  }
  completeConnect(ch, p, undefined);
}

/**
 * Runs the outcome of one authentication step: another challenge (AUTH 0x18), the CONNACK (or
 * AUTH 0x00 after re-authentication), or a refusal.
 */
export function applyAuthStep(ch: Channel, step: AuthStep): void {
  const auth = ch.auth!;
  if (step.kind === "failure") throw new MqttError(step.reasonCode, step.reason);
  const properties = {
    authenticationMethod: auth.method.name,
    ...(step.data ? { authenticationData: asBuffer(step.data) } : {}),
  };
  if (step.kind === "continue") {
    auth.state = step.state;
    if (ch.state === "connecting") ch.state = "authenticating";
    ch.send({ cmd: "auth", reasonCode: ReasonCode.ContinueAuthentication, properties });
    return;
  }
  auth.state = null;
  const pending = auth.pendingConnect;
  if (pending) {
    auth.pendingConnect = null;
    completeConnect(ch, pending, properties);
  } else {
    ch.send({ cmd: "auth", reasonCode: ReasonCode.Success, properties }); // re-authenticated
  }
}

/** Everything after authentication: will, session, CONNACK. */
function completeConnect(
  ch: Channel,
  p: IConnectPacket,
  authProps: Record<string, unknown> | undefined,
): void {
  const { config, registry, log } = ch.host;
  const mqtt = config.mqtt;
  const v5 = ch.protocolVersion === 5;
  const clean = p.clean !== false;
  const clientId = ch.clientId;
  const assigned = ch.assignedId;
  const now = ch.host.now();
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
    ch.will = { message: fromWill(p, clientId, now)!, delayMs };
  }

  // Session expiry: 3.x persistent sessions use the configured bound; MQTT 5 asks, capped by it.
  let expiryMs: number;
  if (v5) {
    const asked = p.properties?.sessionExpiryInterval ?? 0;
    ch.connectSessionExpiry = asked;
    expiryMs = asked === NEVER ? Infinity : asked * 1000;
    expiryMs = Math.min(expiryMs, mqtt.sessionExpiryInterval);
  } else {
    expiryMs = clean ? 0 : mqtt.sessionExpiryInterval;
  }

  // MQTT 5 Server Keep Alive overrides the client's value [MQTT-3.2.2-21].
  const keepalive = v5 && mqtt.serverKeepalive > 0 ? mqtt.serverKeepalive : p.keepalive ?? 0;
  ch.keepalive = keepalive;
  ch.cleanStart = clean;
  ch.keepaliveMs = Math.round(keepalive * 1000 * mqtt.keepaliveMultiplier);
  ch.clientMaxPacketSize = p.properties?.maximumPacketSize ?? 0;
  ch.clientTopicAliasMax = p.properties?.topicAliasMaximum ?? 0;
  const receiveMaximum = p.properties?.receiveMaximum ?? 65535;

  const { session, present } = registry.open(ch, clean, expiryMs);
  ch.session = session;
  ch.state = "connected";

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
    if (assigned) props.assignedClientIdentifier = clientId;
    if (authProps) Object.assign(props, authProps);
    if (mqtt.serverKeepalive > 0) props.serverKeepAlive = mqtt.serverKeepalive;
    if (p.properties?.requestResponseInformation && mqtt.responseInformation !== "") {
      props.responseInformation = mqtt.responseInformation; // [MQTT-3.1.2-28]
    }
    const granted = expiryMs === Infinity ? NEVER : Math.floor(expiryMs / 1000);
    if (granted !== (p.properties?.sessionExpiryInterval ?? 0)) {
      props.sessionExpiryInterval = granted; // [MQTT-3.2.2-?]: tell the client what it got
    }
  }
  ch.sendConnack(ReasonCode.Success, present, v5 ? props : undefined);
  log.debug("Connected {clientId} ({peer}) v{version} clean={clean} present={present}", {
    clientId,
    peer: ch.peer,
    version: ch.protocolVersion,
    clean,
    present,
  });
  ch.host.sys.clientConnected(ch.eventFacts(), now);
  session.attach(ch, receiveMaximum);
  if (present) session.resume(now);
}

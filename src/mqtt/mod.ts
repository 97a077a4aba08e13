/**
 * Public API of src/mqtt/: pure protocol helpers (codec, topic rules, reason codes, messages,
 * CONNECT peek). No state beyond a per-connection decoder, no I/O, no imports from other src/
 * folders. Files starting with `_` are private to this folder.
 *
 * @module
 */

export { MqttError } from "./errors.ts";
export {
  ConnackReturnCodeV3,
  connackReturnCodeV3,
  isReasonCode,
  ReasonCode,
  type ReasonCodeValue,
  reasonName,
  subackReturnCodeV3,
} from "./reason_codes.ts";
export {
  hasWildcard,
  isSysTopic,
  matches,
  parseShared,
  type SharedFilter,
  splitLevels,
  validateTopicFilter,
  validateTopicName,
} from "./topic.ts";
export {
  asBuffer,
  type DecodeResult,
  encodePacket,
  type IAuthPacket,
  type IConnackPacket,
  type IConnectPacket,
  type IDisconnectPacket,
  type IPingreqPacket,
  type IPingrespPacket,
  type IPubackPacket,
  type IPubcompPacket,
  type IPublishPacket,
  type IPubrecPacket,
  type IPubrelPacket,
  type ISubackPacket,
  type ISubscribePacket,
  type ISubscription,
  type IUnsubackPacket,
  type IUnsubscribePacket,
  type Packet,
  type PacketCmd,
  PacketDecoder,
  type PacketDecoderOptions,
  type ProtocolVersion,
  type QoS,
  type UserProperties,
  userPropertiesOf,
} from "./codec.ts";
export {
  decodeMessage,
  encodeMessage,
  encodeMessageParts,
  isExpired,
  type Message,
  MESSAGE_FORMAT_VERSION,
  type MessageProperties,
  remainingExpirySeconds,
} from "./message.ts";
export { fromPublishPacket, fromUserProperties, fromWill } from "./message_from.ts";
export { peekConnect, type PeekResult } from "./connect_peek.ts";
export {
  encodePublish,
  payloadApart,
  type PublishFields,
  publishSize,
  writePublish,
} from "./publish_encoder.ts";

/**
 * MqttError: the one domain error of Culex. Handlers throw or return it; exactly one function in
 * the shard turns it into a CONNACK, DISCONNECT or ack reason code. This file owns nothing else and
 * imports nothing.
 *
 * @module
 */

/**
 * A protocol failure carrying the MQTT 5 reason code that answers it (CONNACK, DISCONNECT,
 * PUBACK/PUBREC or SUBACK/UNSUBACK). Messages follow Deno std style:
 * `Cannot use topic filter "a/#/b": '#' must be the last level`.
 *
 * @example
 * ```ts
 * import { MqttError } from "./errors.ts";
 * import { ReasonCode } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 *
 * const err = new MqttError(ReasonCode.TopicNameInvalid, 'Cannot use topic name "": it is empty');
 * assert.ok(err.reasonCode === 0x90 && err.name === "MqttError");
 * ```
 */
export class MqttError extends Error {
  /** The MQTT 5 reason code (0x80 or above for failures). */
  readonly reasonCode: number;

  constructor(reasonCode: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MqttError";
    this.reasonCode = reasonCode;
  }
}

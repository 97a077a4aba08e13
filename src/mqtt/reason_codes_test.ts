import assert from "node:assert/strict";
import {
  connackReturnCodeV3,
  isReasonCode,
  ReasonCode,
  reasonName,
  subackReturnCodeV3,
} from "./reason_codes.ts";

Deno.test("ReasonCode holds every MQTT 5 reason code", () => {
  const values = new Set(Object.values(ReasonCode));
  assert.equal(values.size, 43); // table 2-6: 43 distinct values
  for (const v of values) assert.ok(isReasonCode(v), `0x${v.toString(16)}`);
  assert.equal(ReasonCode.TopicAliasInvalid, 0x94);
  assert.equal(ReasonCode.SessionTakenOver, 0x8e);
  assert.equal(ReasonCode.ServerShuttingDown, 0x8b);
  assert.equal(ReasonCode.KeepAliveTimeout, 0x8d);
  assert.equal(ReasonCode.QuotaExceeded, 0x97);
  assert.equal(ReasonCode.WildcardSubscriptionsNotSupported, 0xa2);
});

Deno.test("reasonName() gives spec names and marks unknown codes", () => {
  assert.equal(reasonName(0x81), "Malformed Packet");
  assert.equal(reasonName(ReasonCode.NoMatchingSubscribers), "No matching subscribers");
  assert.equal(reasonName(0x03), "Unknown reason code 0x03");
  assert.equal(reasonName(0xab), "Unknown reason code 0xAB");
});

Deno.test("connackReturnCodeV3() maps v5 CONNACK reasons as EMQX does", () => {
  const table: [number, number][] = [
    [0x00, 0],
    [0x80, 1],
    [0x81, 1],
    [0x82, 1],
    [0x84, 1],
    [0x85, 2],
    [0x86, 4],
    [0x87, 5],
    [0x8a, 5],
    [0x8c, 5],
    [0x88, 3],
    [0x89, 3],
    [0x8b, 3],
    [0x97, 3],
    [0x9f, 3],
    [0x95, 3], // not in EMQX's table: falls back to server unavailable
  ];
  for (const [v5, v3] of table) assert.equal(connackReturnCodeV3(v5), v3, `0x${v5.toString(16)}`);
});

Deno.test("subackReturnCodeV3() keeps granted QoS and folds failures into 0x80", () => {
  assert.deepEqual([0, 1, 2, 0x80, 0x87, 0xa2].map(subackReturnCodeV3), [
    0,
    1,
    2,
    0x80,
    0x80,
    0x80,
  ]);
});

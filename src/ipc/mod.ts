/**
 * Public API of src/ipc/: rings, records, doorbells and the ring mesh. The only code in Culex that
 * touches SharedArrayBuffer or Atomics lives behind this module; it knows records, never MQTT.
 * Other folders import from here, never from the files beside it.
 */

export { createRing, maxWholePayload, type RingBuffers, RingReader, RingWriter } from "./ring.ts";
export { committedCut } from "./cut.ts";
export {
  FieldReader,
  FieldWriter,
  RECORD_FORMAT_VERSION,
  RECORD_HEADER_BYTES,
  RecordKind,
  recordKindName,
  type RecordKindValue,
} from "./record.ts";
export {
  blockOnDoorbell,
  createDoorbell,
  readDoorbell,
  ringDoorbell,
  waitDoorbell,
} from "./waiter.ts";
export { createMesh, type Mesh, rebuildShard, type ShardRings } from "./mesh.ts";
export { CountKind, createCounts, resetCounts, SharedCounts } from "./counts.ts";
export {
  fnv1a32,
  hashPick,
  PARTITION_COUNT,
  partitionOf,
  partitionsOfShard,
  shardOf,
  shardOfPartition,
} from "./partition.ts";
export * from "./cluster_records.ts";

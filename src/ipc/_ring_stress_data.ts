/**
 * Test-only: the record sizes and contents of the ring stress tests, shared by the producer worker
 * and the checking tests so both derive every byte from the sequence number alone.
 */

/** Largest small stress payload: 3 KiB. */
export const STRESS_MAX_PAYLOAD = 3072;

function scatter(seq: number): number {
  return Math.imul(seq, 2654435761) >>> 0;
}

/**
 * Payload size of record `seq`: 1 byte to 3 KiB, scattered. With `big` > 0, every fifth record
 * is instead 1 byte to `big` bytes (records larger than the ring: pieces between whole ones).
 */
export function stressSize(seq: number, big = 0): number {
  if (big > 0 && seq % 5 === 0) return 1 + scatter(seq) % big;
  return 1 + scatter(seq) % STRESS_MAX_PAYLOAD;
}

/** Kind byte of record `seq` (0-252: 253-255 are the ring's own kinds). */
export function stressKind(seq: number): number {
  return seq % 253;
}

/** Byte k of record `seq`. */
export function stressByte(seq: number, k: number): number {
  return (seq * 31 + k * 7 + (k >>> 8)) & 0xff;
}

/** The payload of record `seq`. */
export function stressPayload(seq: number, big = 0): Uint8Array {
  const out = new Uint8Array(stressSize(seq, big));
  for (let k = 0; k < out.length; k++) out[k] = stressByte(seq, k);
  return out;
}

/**
 * Test-only: the record sizes and contents of the ring stress test, shared by the producer worker
 * and the checking test so both derive every byte from the sequence number alone.
 */

/** Largest stress payload: 3 KiB. */
export const STRESS_MAX_PAYLOAD = 3072;

/** Payload size of record `seq`: 1 byte to 3 KiB, scattered. */
export function stressSize(seq: number): number {
  return 1 + (Math.imul(seq, 2654435761) >>> 0) % STRESS_MAX_PAYLOAD;
}

/** Kind byte of record `seq`. */
export function stressKind(seq: number): number {
  return seq & 0xff;
}

/** Byte k of record `seq`. */
export function stressByte(seq: number, k: number): number {
  return (seq * 31 + k * 7 + (k >>> 8)) & 0xff;
}

/** The payload of record `seq`. */
export function stressPayload(seq: number): Uint8Array {
  const out = new Uint8Array(stressSize(seq));
  for (let k = 0; k < out.length; k++) out[k] = stressByte(seq, k);
  return out;
}

/**
 * A challenge-response method for testing the AUTH exchange end to end, registered only when the
 * broker runs with CULEX_TEST_HOOKS=1. The server answers CONNECT with a random challenge; the
 * client must return it reversed. It proves nothing about identity and is never on by default.
 */

import type { AuthStep, EnhancedAuthMethod } from "./enhanced.ts";

/** Method name clients select with the Authentication Method property. */
export const TEST_METHOD_NAME = "culex-test-reverse";

/** The test method; see the file header. */
export const reverseChallengeMethod: EnhancedAuthMethod = {
  name: TEST_METHOD_NAME,
  start(): AuthStep {
    const challenge = crypto.getRandomValues(new Uint8Array(8));
    return { kind: "continue", data: challenge, state: challenge };
  },
  next(_ctx, state, data): AuthStep {
    const challenge = state as Uint8Array;
    const ok = data !== undefined && data.length === challenge.length &&
      challenge.every((b, i) => data[challenge.length - 1 - i] === b);
    return ok
      ? { kind: "success", data: new TextEncoder().encode("welcome") }
      : { kind: "failure", reasonCode: 0x87, reason: "Wrong answer to the challenge" };
  },
};

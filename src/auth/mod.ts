/** Authentication and authorization decisions; knows nothing about channels or rings. */
export type { AuthContext, AuthStep, EnhancedAuthMethod } from "./enhanced.ts";
export { EnhancedAuthRegistry } from "./enhanced.ts";
export { reverseChallengeMethod, TEST_METHOD_NAME } from "./test_method.ts";

/**
 * Public surface of src/auth/: security decisions only (authentication chain, authorization
 * with cache, bans, flapping, rate limits, enhanced authentication). Knows nothing about
 * channels, rings or sockets. Other folders import from here only.
 */
export type { AuthContext, AuthStep, EnhancedAuthMethod } from "./enhanced.ts";
export { EnhancedAuthRegistry } from "./enhanced.ts";
export { reverseChallengeMethod, TEST_METHOD_NAME } from "./test_method.ts";
export type { AuthDeps } from "./deps.ts";
export type {
  Authenticator,
  AuthnAllow,
  AuthnAnswer,
  AuthnDeny,
  AuthnResult,
  AuthzAction,
  AuthzClient,
  AuthzSource,
  ClientAcl,
  ClientInfo,
  Decision,
  MaybePromise,
  SourceAnswer,
} from "./types.ts";
export {
  RC_BAD_AUTHENTICATION_METHOD,
  RC_BAD_USERNAME_OR_PASSWORD,
  RC_NOT_AUTHORIZED,
} from "./types.ts";
export { AuthnChain, createAuthenticationChain } from "./authn_chain.ts";
export { Authorizer, createAuthorizer } from "./authorizer.ts";
export { AclStore } from "./authz/file.ts";
export { builtinMaxRules } from "./authz_sources.ts";
export { AUTH_METRIC_NAMES, AuthMetrics } from "./metrics.ts";
export { MemoryUserStore } from "./user_store.ts";
export { type HashedPassword, hashPassword } from "./_hash.ts";
export { BUILTIN_ID, readBootstrapFile } from "./authn/local.ts";
export type { StoredUser, UserStore } from "./user_store.ts";
export { BAN_AS, Banned, createBanned } from "./banned.ts";
export type { BanAs, BanEntry, BanInput } from "./banned.ts";
export { FlappingDetector } from "./flapping.ts";
export { bucketOf, ClientLimiter, parseRate, TokenBucket } from "./limiter.ts";
export { ipInCidr, parseCidr } from "./ip.ts";
export { parseAclFile } from "./acl_file.ts";
export { ScramMethod } from "./authn/scram.ts";

/**
 * The contract suites every authentication backend and every authorization source passes
 * (aedes-persistence's abstract.js style): allow, deny, ignore/nomatch, superuser, each
 * placeholder, injection attempts, a hung server (timeout), a killed server. A backend test
 * file starts its real server once, gives a Backend adapter, and calls these. Owns no server.
 * The authentication contract is in auth_contract_authn.ts, the authorization contract and
 * backendContracts() in auth_contract_authz.ts; suites import them from here.
 */
export * from "./auth_contract_authn.ts";
export * from "./auth_contract_authz.ts";

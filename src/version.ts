/**
 * The Culex release version, in one place. Owned by the release process: bump it when tagging;
 * nothing else writes it. Read by `culex version` and, later, $SYS/brokers/<node>/version.
 */

/** Semantic version of this build. */
export const VERSION = "0.1.0";

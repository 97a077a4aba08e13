/**
 * Config types of the security modules (src/auth/): the authentication chain, authorization,
 * banned, flapping_detect, rate limits and zones. Owned by src/config/ (built by
 * _schema_auth.ts), re-exported from types.ts. Durations are milliseconds. EMQX 5.8 key names,
 * camelCased.
 */

/** password_hash_algorithm (src/auth/_hash.ts HashAlgorithm has the same shape). */
export type PasswordHashConfig =
  | {
    readonly name: "plain" | "md5" | "sha" | "sha256" | "sha512";
    readonly saltPosition: "disable" | "prefix" | "suffix";
  }
  | { readonly name: "bcrypt"; readonly saltRounds: number }
  | {
    readonly name: "pbkdf2";
    readonly macFun: "sha" | "sha224" | "sha256" | "sha384" | "sha512";
    readonly iterations: number;
    readonly dkLength?: number | undefined;
  };

interface Common {
  readonly enable: boolean;
}

/** Keys every networked backend shares. */
export interface BackendCommon extends Common {
  /** Connections per node; each shard holds ceil(pool_size / shards). */
  readonly poolSize: number;
  /** Deadline of one lookup; past it the answer is ignore (authn) / nomatch (authz). */
  readonly queryTimeout: number;
}

export interface BuiltinDbAuthnConfig extends Common {
  readonly mechanism: "password_based";
  readonly backend: "built_in_database";
  readonly userIdType: "username" | "clientid";
  readonly passwordHashAlgorithm: PasswordHashConfig;
  /** CSV of users loaded at start ("" = none). */
  readonly bootstrapFile: string;
  readonly bootstrapType: "plain" | "hash";
}

export interface RedisConnConfig extends BackendCommon {
  readonly redisType: "single";
  readonly server: string;
  readonly database: number;
  readonly username: string;
  readonly password: string;
}

export interface RedisAuthnConfig extends RedisConnConfig {
  readonly mechanism: "password_based";
  readonly backend: "redis";
  readonly cmd: string;
  readonly passwordHashAlgorithm: PasswordHashConfig;
}

export interface SqlConnConfig extends BackendCommon {
  readonly server: string;
  readonly database: string;
  readonly username: string;
  readonly password: string;
}

export interface SqlAuthnConfig extends SqlConnConfig {
  readonly mechanism: "password_based";
  readonly backend: "postgresql" | "mysql";
  readonly query: string;
  readonly passwordHashAlgorithm: PasswordHashConfig;
}

export interface MongoConnConfig extends BackendCommon {
  readonly mongoType: "single";
  readonly server: string;
  readonly database: string;
  readonly collection: string;
  readonly username: string;
  readonly password: string;
  readonly filter: Readonly<Record<string, unknown>>;
}

export interface MongoAuthnConfig extends MongoConnConfig {
  readonly mechanism: "password_based";
  readonly backend: "mongodb";
  readonly passwordHashField: string;
  readonly saltField: string;
  readonly isSuperuserField: string;
  readonly passwordHashAlgorithm: PasswordHashConfig;
}

export interface LdapConnConfig extends BackendCommon {
  readonly server: string;
  readonly username: string;
  readonly password: string;
  readonly baseDn: string;
  readonly filter: string;
}

export interface LdapAuthnConfig extends LdapConnConfig {
  readonly mechanism: "password_based";
  readonly backend: "ldap";
  readonly method:
    | { readonly type: "bind"; readonly bindPassword: string }
    | {
      readonly type: "hash";
      readonly passwordAttribute: string;
      readonly isSuperuserAttribute: string;
    };
}

export interface HttpConnConfig extends Common {
  readonly method: "get" | "post";
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
  readonly requestTimeout: number;
  readonly poolSize: number;
}

export interface HttpAuthnConfig extends HttpConnConfig {
  readonly mechanism: "password_based";
  readonly backend: "http";
}

export interface JwtAuthnConfig extends Common {
  readonly mechanism: "jwt";
  readonly algorithm: "hmac-based" | "public-key";
  readonly secret: string;
  readonly secretBase64Encoded: boolean;
  /** PEM text, or a path to a PEM file. */
  readonly publicKey: string;
  readonly useJwks: boolean;
  /** JWKS file path (use_jwks = true); this build reads JWKS from a file, not a URL. */
  readonly endpoint: string;
  readonly from: "password" | "username" | "cookie";
  readonly verifyClaims: Readonly<Record<string, string>>;
  readonly aclClaimName: string;
  readonly disconnectAfterExpire: boolean;
}

export interface ScramAuthnConfig extends Common {
  readonly mechanism: "scram";
  readonly backend: "built_in_database";
  readonly algorithm: "sha256" | "sha512";
  readonly iterationCount: number;
}

/** Culex's simple rules (the seed's): allow or deny by client id, username or address. */
export interface SimpleAuthnConfig extends Common {
  readonly mechanism: "simple";
  readonly rules: readonly {
    readonly permission: "allow" | "deny";
    readonly clientid?: string | undefined;
    readonly username?: string | undefined;
    readonly peerhost?: string | undefined;
    readonly isSuperuser: boolean;
  }[];
}

export type AuthenticatorConfig =
  | BuiltinDbAuthnConfig
  | RedisAuthnConfig
  | SqlAuthnConfig
  | MongoAuthnConfig
  | LdapAuthnConfig
  | HttpAuthnConfig
  | JwtAuthnConfig
  | ScramAuthnConfig
  | SimpleAuthnConfig;

export type AuthzSourceConfig =
  | (Common & { readonly type: "file"; readonly path: string; readonly rules: string })
  | (Common & { readonly type: "built_in_database"; readonly maxRules: number })
  | (RedisConnConfig & { readonly type: "redis"; readonly cmd: string })
  | (SqlConnConfig & { readonly type: "postgresql" | "mysql"; readonly query: string })
  | (MongoConnConfig & { readonly type: "mongodb"; readonly limit: number; readonly skip: number })
  | (LdapConnConfig & {
    readonly type: "ldap";
    readonly publishAttribute: string;
    readonly subscribeAttribute: string;
    readonly allAttribute: string;
  })
  | (HttpConnConfig & { readonly type: "http" });

export interface AuthorizationConfig {
  readonly noMatch: "allow" | "deny";
  readonly denyAction: "ignore" | "disconnect";
  readonly cache: {
    readonly enable: boolean;
    readonly maxSize: number;
    readonly ttl: number;
    readonly excludes: readonly string[];
  };
  readonly sources: readonly AuthzSourceConfig[];
}

export interface BannedConfig {
  /** EMQX's banned CSV loaded at start ("" = none). */
  readonly bootstrapFile: string;
}

export interface FlappingDetectConfig {
  readonly enable: boolean;
  readonly windowTime: number;
  readonly maxCount: number;
  readonly banTime: number;
}

/** A rate "N/period": `tokens` per `periodMs`; null = unlimited ("infinity"). */
export interface Rate {
  readonly tokens: number;
  readonly periodMs: number;
}

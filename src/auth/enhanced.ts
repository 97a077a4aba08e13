/**
 * Enhanced authentication (MQTT 5 AUTH, section 4.12): the interface a method implements and the
 * registry the shard looks methods up in. A method is a synchronous state machine over the
 * exchanged authentication data, so a Channel can run it without awaiting (SCRAM over the
 * built-in users is synchronous: HMACs only). Decisions only: no channels, no rings.
 */

/** What the client has said about itself before the exchange. */
export interface AuthContext {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly peer: string;
}

/** One step of an exchange. `state` is the method's own, handed back on the next step. */
export type AuthStep =
  /** `superuser` (SCRAM users may be superusers) skips authorization, as EMQX. */
  | { readonly kind: "success"; readonly data?: Uint8Array; readonly superuser?: boolean }
  | { readonly kind: "continue"; readonly data: Uint8Array; readonly state: unknown }
  | { readonly kind: "failure"; readonly reasonCode: number; readonly reason: string };

/** An enhanced authentication method (e.g. SCRAM-SHA-256). */
export interface EnhancedAuthMethod {
  /** The Authentication Method property value that selects this method. */
  readonly name: string;
  /** First step: CONNECT (or AUTH 0x19 for re-authentication) with its data. */
  start(ctx: AuthContext, data: Uint8Array | undefined): AuthStep;
  /** Next step: AUTH 0x18 (continue authentication) with its data. */
  next(ctx: AuthContext, state: unknown, data: Uint8Array | undefined): AuthStep;
}

/** The methods a broker offers, by name. */
export class EnhancedAuthRegistry {
  readonly #methods = new Map<string, EnhancedAuthMethod>();

  register(method: EnhancedAuthMethod): void {
    this.#methods.set(method.name, method);
  }

  get(name: string): EnhancedAuthMethod | undefined {
    return this.#methods.get(name);
  }
}

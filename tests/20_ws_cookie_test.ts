/**
 * Integration suite 20 (cookie): browser cookie authentication over WebSocket (issue 12). A ws
 * listener names its cookie with `websocket.auth_cookie_name`; the upgrade request's cookie of that
 * name is offered to the authentication chain, here a `jwt` authenticator with `from: cookie`
 * (EMQX's JWT authenticator reads the token from the password or username; the cookie source is
 * Culex's). Each connection is a raw RFC 6455 client written by the test, sending the Cookie header
 * as a browser would after a web login.
 */

import { SignJWT } from "jose";
import { assertEquals } from "./_helpers/assert.ts";
import { type BrokerHandle, startBroker } from "./_helpers/broker.ts";
import { connectPacket, PacketType } from "./_helpers/packets.ts";
import { WsRaw } from "./_helpers/ws_raw.ts";

const SECRET = "cookie-test-secret-0123456789abcdef";

const CONFIG = `listeners:
  tcp:
    default:
      bind: 127.0.0.1:0
  ws:
    default:
      bind: 127.0.0.1:0
      websocket:
        auth_cookie_name: mqtt_token
authentication:
  - mechanism: jwt
    algorithm: hmac-based
    secret: ${SECRET}
    from: cookie
    verify_claims: { sub: "\${clientid}" }
`;

async function token(sub: string, secret = SECRET): Promise<string> {
  return await new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
}

/** Upgrades with `cookie` (if any), sends CONNECT and returns the CONNACK's return/reason code. */
async function connackCode(
  port: number,
  clientId: string,
  version: 4 | 5,
  cookie?: string,
): Promise<number> {
  const headers: Record<string, string> = cookie === undefined ? {} : { Cookie: cookie };
  const ws = await WsRaw.open(port, { headers });
  try {
    assertEquals(ws.status, 101, `upgrade: ${ws.responseHead}`);
    await ws.sendBinary(connectPacket({ version, clientId }));
    const p = await ws.readPacket();
    assertEquals(p.type, PacketType.CONNACK, "CONNACK");
    // 3.1.1: [flags, return code]; 5.0: [flags, reason code, properties...]
    return p.body[1]!;
  } finally {
    ws.close();
  }
}

Deno.test("20 WebSocket cookie authentication through the jwt authenticator", async (t) => {
  const broker: BrokerHandle = await startBroker({ config: CONFIG, listeners: ["ws:default"] });
  const port = broker.portOf("ws:default");
  try {
    await t.step("a valid token in the named cookie is accepted (3.1.1 and 5.0)", async () => {
      const cookie4 = `theme=dark; mqtt_token=${await token("cookie-c4")}; other=1`;
      assertEquals(await connackCode(port, "cookie-c4", 4, cookie4), 0, "3.1.1 accepted");
      const cookie5 = `mqtt_token=${await token("cookie-c5")}`;
      assertEquals(await connackCode(port, "cookie-c5", 5, cookie5), 0, "5.0 accepted");
    });

    // No token: the only authenticator ignores the client, so it is refused as "not authorized"
    // (3.1.1 return code 5). A token that fails its signature is a bad password: MQTT 5 reason
    // code 0x86 Bad User Name or Password, as EMQX answers an invalid JWT.
    await t.step("no cookie, another cookie name, or a wrong token is refused", async () => {
      assertEquals(await connackCode(port, "cookie-none", 4), 5, "no cookie");
      assertEquals(
        await connackCode(port, "cookie-other", 4, `token=${await token("cookie-other")}`),
        5,
        "a cookie of another name is not offered",
      );
      assertEquals(
        await connackCode(port, "cookie-bad", 5, `mqtt_token=${await token("cookie-bad", "x")}`),
        0x86,
        "a token signed with another secret",
      );
    });

    await t.step("verify_claims ties the token to its client id", async () => {
      const cookie = `mqtt_token=${await token("someone-else")}`;
      assertEquals(
        await connackCode(port, "cookie-thief", 4, cookie),
        5,
        "sub is not the client id",
      );
    });
  } finally {
    await broker.stop();
  }
});

/**
 * WebSocket handshakes that nothing takes: answered 426 Upgrade Required
 * with a log line, never a 200 from the app's GET route (the client would
 * see "Unexpected server response: 200" and the operator nothing). Other
 * upgrades (`Upgrade: h2c`) are ordinary requests to the app.
 */
import type { FetchHandler } from "./contract.ts";
import { requestHeader } from "./request-header.ts";

/**
 * Whether a request is a WebSocket handshake: a GET (RFC 6455) whose
 * Upgrade header asks for a WebSocket. Another method with that header is
 * an ordinary request.
 */
export function asksForWebSocket(method: string | undefined, upgrade: string | null | undefined): boolean {
  return method === "GET" && upgrade !== null && upgrade !== undefined && upgrade.toLowerCase().split(/\s*,\s*/).includes("websocket");
}

/**
 * Whether a fetch request is a WebSocket handshake. The method is asked
 * first: reading a header builds the request's Headers on Bun and Deno,
 * which a POST need not pay for.
 */
export function isWebSocketHandshake(req: Request): boolean {
  const method = req.method;
  return method === "GET" && asksForWebSocket(method, requestHeader(req, "upgrade"));
}

export const UPGRADE_REQUIRED_HEAD = "HTTP/1.1 426 Upgrade Required\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 37\r\n\r\n";
export const UPGRADE_REQUIRED_BODY = "no WebSocket handler for this request";

export function untakenMessage(path: string): string {
  return `a WebSocket upgrade for ${path} found no WebSocket handler: answered 426 (see the README, WebSockets)`;
}

/**
 * A fetch app, with the WebSocket handshakes it did not take (no 101, no
 * server.upgrade(), yet a 2xx answer) turned into 426. Its own refusals
 * (401, 403, 404...) stand.
 */
export function refuseUntakenUpgrades(handler: FetchHandler, log: (m: string) => void): FetchHandler {
  const check = (req: Request, info: Parameters<FetchHandler>[1], res: Response): Response => {
    if (info.upgraded || res.status === 101 || res.status < 200 || res.status >= 300) return res;
    res.body?.cancel().catch(() => {});
    log(untakenMessage(new URL(req.url).pathname));
    return new Response(UPGRADE_REQUIRED_BODY, { status: 426, headers: { "content-type": "text/plain", connection: "close" } });
  };
  return (req, info) => {
    if (!isWebSocketHandshake(req)) return handler(req, info);
    const out = handler(req, info);
    return out instanceof Promise ? out.then((r) => (r instanceof Response ? check(req, info, r) : r)) : out instanceof Response ? check(req, info, out) : out;
  };
}

/** This worker's WebSockets, whoever serves them: reported with each heartbeat (--stats). */
export const webSockets = { open: 0, opened: 0, messagesIn: 0, messagesOut: 0 };
export type WebSocketCounts = typeof webSockets;

/** Count one WebSocket open; the function returned counts it closed (once, however often called). */
export function countWebSocket(): () => void {
  webSockets.open++;
  webSockets.opened++;
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    webSockets.open--;
  };
}

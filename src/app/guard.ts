/**
 * An app that throws, rejects or returns something other than a Response gets
 * a 500 for that request and a log line; the worker keeps serving.
 */
import { describeError } from "../errors.ts";
import type { BridgeResponse } from "./bridge.ts";
import type { FetchHandler, NodeListener, RequestInfo } from "./contract.ts";

const HINT = "; if this app is a Node listener (req, res), start tsgw with --interface node";

/** What a Node listener called as a fetch handler fails with: a ServerResponse member missing from the second argument. */
const NODE_ONLY =
  /\b(writeHead|setHeader|getHeader|removeHeader|statusCode|end|write|on|socket|headersSent)\b.*(is not a function|undefined)|(reading|setting) '(writeHead|setHeader|statusCode|end|socket)'/;

/**
 * `guessed`: the interface was a guess (any function is a fetch handler);
 * if the app then fails the way a Node listener would, the log says once
 * how to start it.
 */
export function guardFetch(handler: FetchHandler, log: (m: string) => void, guessed = false): FetchHandler {
  let hinted = false;
  const failed = (err: unknown, request: Request) => {
    // a Host header no URL can be made of (Deno.serve passes it into request.url as it came) fails the
    // app's `new URL(request.url)`: the client's fault, a 400 and no error line (see protocol/host.ts)
    if (err instanceof TypeError && !URL.canParse(request.url)) return badRequest("invalid Host header");
    log(`app raised: ${describeError(err)}`);
    if (guessed && !hinted && err instanceof TypeError && NODE_ONLY.test(err.message)) {
      hinted = true;
      log(
        `the app was taken for a fetch handler, and failed the way a Node listener (req, res) called so does; if it is one, start tsgw with --interface node`,
      );
    }
    return internalError();
  };
  const check = (r: unknown, info: RequestInfo): Response => {
    if (r instanceof globalThis.Response) return r;
    // a request the app upgraded to a WebSocket (Bun's server.upgrade()) has no Response
    if (r === undefined && info.upgraded) return r as unknown as Response;
    log(`app returned ${r === undefined ? "undefined" : typeof r}, not a Response${HINT}`);
    return internalError();
  };
  return (request, info) => {
    let out: unknown;
    try {
      out = handler(request, info);
    } catch (err) {
      return failed(err, request);
    }
    // the global at call time: on Node tsgw's light Response, which also knows native ones
    if (out instanceof globalThis.Response) return out;
    if (typeof (out as Promise<unknown>)?.then === "function") return (out as Promise<unknown>).then((r) => check(r, info), (err) => failed(err, request));
    return check(out, info);
  };
}

export function guardNode(listener: NodeListener, log: (m: string) => void): NodeListener {
  return (req, res) => {
    const failed = (err: unknown) => {
      log(`app raised: ${describeError(err)}`);
      fail500(res);
    };
    try {
      const out = listener(req, res) as unknown;
      if (typeof (out as Promise<unknown>)?.then === "function") (out as Promise<unknown>).then(undefined, failed);
    } catch (err) {
      failed(err);
    }
  };
}

/** A 500 if nothing was sent yet; otherwise the only honest end is a cut connection. */
export function fail500(res: BridgeResponse): void {
  if (res.headersSent) return void res.destroy();
  // headers a failed writeHead left behind are not this answer's (the uwsgi server's response keeps none)
  for (const name of res.getHeaderNames?.() ?? []) res.removeHeader?.(name);
  // the reason phrase is given: a writeHead that failed may have left the app's statusMessage set
  res.writeHead(500, "Internal Server Error", { "content-type": "text/plain", "content-length": "21" }).end("Internal Server Error");
}

function badRequest(text: string): Response {
  return new Response(text, { status: 400, headers: { "content-type": "text/plain", connection: "close" } });
}

function internalError(): Response {
  return new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain" } });
}

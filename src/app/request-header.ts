/**
 * One request header, read without building the request's Headers where
 * the request can tell it: the light request over node:http answers from
 * the node request's own parsed headers. Building a Headers object costs
 * more than a hello-world request on Node and loads undici (about 9 MB a
 * worker), so what tsgw itself reads of every request (the WebSocket
 * handshake check, the access log) goes through here.
 */

/** The method a request that can tell one header has (the light request). */
export const HEADER = Symbol("tsgw.header");

type HeaderReader = { [HEADER]?: (name: string) => string | null };

/** `name` in lower case. */
export function requestHeader(req: Request, name: string): string | null {
  const own = (req as unknown as HeaderReader)[HEADER];
  return own ? own.call(req, name) : req.headers.get(name);
}

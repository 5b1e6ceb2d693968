/**
 * What every benchmarked server answers, as a fetch handler: hello world at /,
 * a JSON echo at POST /json, a 64 KB response streamed in 4 KB chunks at /64k.
 * hello-node.mjs answers the same as a Node listener.
 */
const BODY = "Hello from tsgw\n";
const CHUNK = new Uint8Array(4096).fill(120);

export function handle(req: Request): Response | Promise<Response> {
  const path = req.url.slice(req.url.indexOf("/", 8));
  if (path === "/json") return req.json().then((data) => Response.json(data));
  if (path === "/64k") {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(CHUNK);
        if (++sent === 16) c.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  }
  return new Response(BODY, { headers: { "content-type": "text/plain" } });
}

/** The demo app: `tsgw demo:app`. A plain fetch handler, nothing else needed. */
export function app(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname === "/") return new Response("Hello from tsgw\n", { headers: { "content-type": "text/plain" } });
  return new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain" } });
}

export default app;

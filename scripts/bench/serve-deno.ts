// For `deno serve --parallel`: the same hello world as a default export with fetch.
const BODY = "Hello from tsgw\n";
export default { fetch: (_req: Request) => new Response(BODY, { headers: { "content-type": "text/plain" } }) };

/** The hello world every benchmark serves, as a tsgw app. */
const BODY = "Hello from tsgw\n";
export default (_req: Request) => new Response(BODY, { headers: { "content-type": "text/plain" } });

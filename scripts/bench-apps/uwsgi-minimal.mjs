// The baselines for tsgw's uwsgi layer: a minimal hand-written uwsgi server
// on the runtime's own socket API (Bun.listen on Bun, node:net on Node and
// Deno), no limits, no errors handled. By default it reads the vars block
// and answers the workload's hello world as fixed bytes: the least the
// protocol costs on that API. With "app" it serves the workload's fetch
// handler the shortest way: a Request from the vars, the Response read
// whole (no streaming), one write: what running the app costs on top.
//   <runtime> uwsgi-minimal.mjs SOCKET_PATH [app]
const BODY = "Hello from tsgw\n";
const RESPONSE = new TextEncoder().encode(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`);
const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [path, mode] = args;

/** the vars block has arrived whole */
const complete = (buf) => buf.length >= 4 && buf.length >= 4 + (buf[1] | (buf[2] << 8));

let answer = (_buf, write) => write(RESPONSE);
if (mode === "app") {
  const workload = new URL("./workload.ts", import.meta.url);
  const { handle } = globalThis.Bun || globalThis.Deno
    ? await import(workload.href)
    : await (await import("jiti")).createJiti(import.meta.url).import(workload.pathname);
  answer = async (buf, write) => {
    const vars = {};
    const headers = [];
    const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1");
    for (let pos = 4, end = 4 + (buf[1] | (buf[2] << 8)); pos < end;) {
      const klen = buf[pos] | (buf[pos + 1] << 8);
      const key = text.slice(pos + 2, pos + 2 + klen);
      pos += 2 + klen;
      const vlen = buf[pos] | (buf[pos + 1] << 8);
      const value = text.slice(pos + 2, pos + 2 + vlen);
      pos += 2 + vlen;
      if (key.startsWith("HTTP_")) headers.push([key.slice(5).toLowerCase().replaceAll("_", "-"), value]);
      else vars[key] = value;
    }
    const request = new Request(`http://${vars.SERVER_NAME || "localhost"}${vars.REQUEST_URI}`, { method: vars.REQUEST_METHOD, headers });
    const response = await handle(request);
    const body = new Uint8Array(await response.arrayBuffer());
    let head = `HTTP/1.1 ${response.status} ${response.statusText || "OK"}\r\n`;
    response.headers.forEach((v, k) => (head += `${k}: ${v}\r\n`));
    const headBytes = Buffer.from(`${head}content-length: ${body.byteLength}\r\n\r\n`, "latin1");
    write(Buffer.concat([headBytes, body]));
  };
}

if (globalThis.Bun) {
  globalThis.Bun.listen({
    unix: path,
    socket: {
      data(socket, chunk) {
        const buf = socket.data ? Buffer.concat([socket.data, chunk]) : chunk;
        if (!complete(buf)) return void (socket.data = buf);
        answer(buf, (bytes) => {
          socket.write(bytes);
          socket.end();
        });
      },
    },
  });
} else {
  const { createServer } = await import("node:net");
  createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (complete(buf)) answer(buf, (bytes) => socket.end(bytes));
    });
    socket.on("error", () => {});
  }).listen(path);
}

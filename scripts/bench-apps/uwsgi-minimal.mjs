// The baseline for tsgw's uwsgi layer: a minimal hand-written uwsgi server
// on the runtime's own socket API (Bun.listen on Bun, node:net on Node and
// Deno). It reads the vars block and answers the workload's hello world as
// fixed bytes: no limits, no errors handled, no app; the least the protocol
// costs on that API.
//   <runtime> uwsgi-minimal.mjs SOCKET_PATH
const BODY = "Hello from tsgw\n";
const RESPONSE = new TextEncoder().encode(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`);
const path = globalThis.Deno?.args?.[0] ?? process.argv[2];

/** the vars block has arrived whole (its contents are not needed for a fixed answer) */
const complete = (buf) => buf.length >= 4 && buf.length >= 4 + (buf[1] | (buf[2] << 8));

if (globalThis.Bun) {
  globalThis.Bun.listen({
    unix: path,
    socket: {
      data(socket, chunk) {
        const buf = socket.data ? Buffer.concat([socket.data, chunk]) : chunk;
        if (!complete(buf)) return void (socket.data = buf);
        socket.write(RESPONSE);
        socket.end();
      },
    },
  });
} else {
  const { createServer } = await import("node:net");
  createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (complete(buf)) socket.end(RESPONSE);
    });
    socket.on("error", () => {});
  }).listen(path);
}

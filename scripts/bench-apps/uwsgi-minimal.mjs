// The baseline for tsgw's uwsgi layer: a minimal hand-written uwsgi server
// answering the workload's hello world through a fetch handler, on the
// runtime's fastest socket API (Bun.listen on Bun, node:net elsewhere).
// No limits, no errors handled, GET only: what the protocol costs at least.
//   <runtime> uwsgi-minimal.mjs SOCKET_PATH
const BODY = "Hello from tsgw\n";
const handle = () => new Response(BODY, { headers: { "content-type": "text/plain" } });

const path = globalThis.Deno?.args?.[0] ?? process.argv[2];

function varsOf(buf) {
  const end = 4 + (buf[1] | (buf[2] << 8));
  if (buf.length < end) return undefined;
  const vars = {};
  const text = (a, b) => String.fromCharCode.apply(null, buf.subarray(a, b));
  for (let pos = 4; pos < end; ) {
    const kl = buf[pos] | (buf[pos + 1] << 8);
    const key = text(pos + 2, pos + 2 + kl);
    pos += 2 + kl;
    const vl = buf[pos] | (buf[pos + 1] << 8);
    vars[key] = text(pos + 2, pos + 2 + vl);
    pos += 2 + vl;
  }
  return vars;
}

const FIXED = [`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${BODY.length}\r\n\r\n`, new TextEncoder().encode(BODY)];
async function answer(vars) {
  if (process.env.MINIMAL_FIXED) return FIXED;
  const headers = [];
  for (const k in vars) if (k.startsWith("HTTP_")) headers.push([k.slice(5).toLowerCase().replace(/_/g, "-"), vars[k]]);
  const res = await handle(new Request(`http://${vars.HTTP_HOST || "localhost"}${vars.REQUEST_URI}`, { method: vars.REQUEST_METHOD, headers }));
  const body = new Uint8Array(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} OK\r\n`;
  res.headers.forEach((v, k) => (head += `${k}: ${v}\r\n`));
  return [`${head}content-length: ${body.length}\r\n\r\n`, body];
}

if (globalThis.Bun && !process.env.MINIMAL_NET) {
  globalThis.Bun.listen({
    unix: path,
    socket: {
      data(socket, chunk) {
        const vars = varsOf(socket.data ? Buffer.concat([socket.data, chunk]) : chunk);
        if (!vars) return void (socket.data = Buffer.concat([socket.data ?? Buffer.alloc(0), chunk]));
        answer(vars).then(([head, body]) => {
          socket.write(head);
          socket.end(body);
        });
      },
    },
  });
} else if (globalThis.Deno && !process.env.MINIMAL_NET) {
  for await (const conn of globalThis.Deno.listen({ transport: "unix", path })) {
    (async () => {
      let buf = new Uint8Array(0);
      const chunk = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return conn.close();
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        const vars = varsOf(buf);
        if (!vars) continue;
        const [head, body] = await answer(vars);
        const h = new TextEncoder().encode(head);
        const out = new Uint8Array(h.length + body.length);
        out.set(h);
        out.set(body, h.length);
        await conn.write(out);
        return conn.close();
      }
    })().catch(() => {});
  }
} else {
  const { createServer } = await import("node:net");
  createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const vars = varsOf(buf);
      if (!vars) return;
      answer(vars).then(([head, body]) => {
        socket.write(head);
        socket.end(body);
      });
    });
    socket.on("error", () => {});
  }).listen(path);
}

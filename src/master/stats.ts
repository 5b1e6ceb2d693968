/**
 * The stats server (--stats ADDR, uWSGI's option): the master's status as
 * JSON. As uWSGI's, a client that connects and reads gets the document and
 * the connection closes (uwsgitop-style tools, `nc`); a client that sends an
 * HTTP request first (curl, a browser, a monitoring probe) gets it as an HTTP
 * response. A bare port means loopback: these numbers are for the operator.
 */
import { type Address, parseAddress } from "../config/address.ts";
import { TsgwError } from "../errors.ts";
import { listenOn, prepareUnixPath, removeSocket } from "../runtime/socket-files.ts";
import type { MasterStatus } from "./control.ts";
import { dynamicImport } from "../dynamic-import.ts";

/** how long a silent client is given to start an HTTP request before it gets the plain document */
const HTTP_WAIT_MS = 100;

/** The address of an operator's endpoint (stats, metrics): a bare port means loopback. */
export function statsAddress(text: string, cwd: string, setting = "stats"): Address {
  const t = text.trim();
  const loopback = /^:?\d+$/.test(t) ? `127.0.0.1:${t.replace(/^:/, "")}` : t;
  const address = parseAddress(loopback, cwd);
  if (typeof address === "string") throw new TsgwError(`${setting}: ${address}`);
  return address;
}

export interface StatsServer {
  /** stop serving; a unix socket file is removed */
  close(): void;
}

export async function serveStats(text: string, cwd: string, status: () => MasterStatus): Promise<StatsServer> {
  const address = statsAddress(text, cwd);
  if (address.kind === "unix") await prepareUnixPath(address.path);
  // (asked for here: every master imports this module, and node:net costs a Bun master 2 MB)
  const { createServer } = await dynamicImport<typeof import("node:net")>("node:net");
  const server = createServer((sock) => {
    sock.on("error", () => {});
    let answered = false;
    const answer = (http: boolean) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      const body = `${JSON.stringify(status(), null, 2)}\n`;
      const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
      sock.end(http ? head + body : body);
    };
    const timer = setTimeout(() => answer(false), HTTP_WAIT_MS);
    sock.once("data", (d: Buffer) => answer(/^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(d.toString("latin1", 0, 256).split("\n")[0] + "\n")));
  });
  await listenOn(server, address).catch((err: Error) => {
    throw new TsgwError(`stats: ${err.message}`);
  });
  return {
    close() {
      server.close();
      removeSocket(address);
    },
  };
}

/**
 * What an app is and what it receives: the two interfaces tsgw serves (a
 * fetch handler, a Node listener) and the second argument of a fetch
 * handler. App loading, the shims and the worker all speak these; this
 * module imports nothing of tsgw's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export interface RemoteAddr {
  hostname: string;
  port: number;
}

/** The second argument every fetch handler receives. */
export interface RequestInfo {
  remoteAddr: RemoteAddr;
  workerId: number;
}

export type FetchHandler = (request: Request, info: RequestInfo) => Response | Promise<Response>;
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Imports a module from disk, TypeScript included, the runtime's way (the app's module, a TS config). */
export type ImportModule = (file: string) => Promise<Record<string, unknown>>;

/** The `info` argument of fetch handlers; remoteAddr is worked out on first use, since most apps never look. */
export class LazyRequestInfo<S> implements RequestInfo {
  #source: S;
  #read: (source: S) => RemoteAddr;
  #remote?: RemoteAddr;
  /** `read` should be made once per server, not per request */
  constructor(source: S, read: (source: S) => RemoteAddr, readonly workerId: number) {
    this.#source = source;
    this.#read = read;
  }
  get remoteAddr(): RemoteAddr {
    return (this.#remote ??= this.#read(this.#source));
  }
}

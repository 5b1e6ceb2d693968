/** The `info` argument of fetch handlers; remoteAddr is worked out on first use, since most apps never look. */
import type { RemoteAddr, RequestInfo } from "./types.ts";

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

/**
 * The runtime's own Request, Response and fetch, reached lazily, and how the
 * light objects stand in for them: each light class answers the standard
 * members by building its real object, and once the native classes are
 * loaded the light prototypes chain to theirs, so `instanceof` holds.
 */
/**
 * The runtime's own globals, read on first use: on Node, touching any of
 * them loads undici, about 9 MB a worker that a fetch app answering from
 * light objects never needs. The property descriptors are taken now, before
 * the install functions below replace the globals.
 */
function original<T>(name: string): () => T {
  const desc = Object.getOwnPropertyDescriptor(globalThis, name);
  let value: T | undefined;
  return () => {
    if (value === undefined) {
      const now = Object.getOwnPropertyDescriptor(globalThis, name);
      value = (desc?.get ? desc.get.call(globalThis) : desc?.value) as T;
      // Node's lazy getter redefines the global as it loads: put back what is there now (tsgw's)
      if (now) Object.defineProperty(globalThis, name, now);
    }
    return value;
  };
}
const nativeFetch = original<typeof fetch>("fetch");
const nativeRequestClass = original<typeof Request>("Request");
const nativeResponseClass = original<typeof Response>("Response");

export { nativeFetch };

const loaded: ((classes: { NativeRequest: typeof Request; NativeResponse: typeof Response }) => void)[] = [];
let chained = false;

/** Run `chain` once the native classes are loaded (at once if they are). */
export function whenNativesLoaded(chain: (classes: { NativeRequest: typeof Request; NativeResponse: typeof Response }) => void): void {
  if (chained) chain(natives());
  else loaded.push(chain);
}

/** The native classes; loading them chains the light prototypes to theirs (for instanceof) and delegates every member. */
export function natives(): { NativeRequest: typeof Request; NativeResponse: typeof Response } {
  const classes = { NativeRequest: nativeRequestClass(), NativeResponse: nativeResponseClass() };
  if (!chained) {
    chained = true;
    for (const chain of loaded.splice(0)) chain(classes);
  }
  return classes;
}

/**
 * The members of Request and Response, as the fetch standard names them:
 * light objects answer them before the native classes are loaded.
 */
const BODY_MEMBERS = { get: ["body", "bodyUsed", "headers"], call: ["arrayBuffer", "blob", "bytes", "formData", "json", "text", "clone"] };
export const REQUEST_MEMBERS = {
  get: [
    ...BODY_MEMBERS.get,
    "method",
    "url",
    "destination",
    "referrer",
    "referrerPolicy",
    "mode",
    "credentials",
    "cache",
    "redirect",
    "integrity",
    "keepalive",
    "isReloadNavigation",
    "isHistoryNavigation",
    "signal",
    "duplex",
  ],
  call: BODY_MEMBERS.call,
};
export const RESPONSE_MEMBERS = { get: [...BODY_MEMBERS.get, "type", "url", "redirected", "status", "ok", "statusText"], call: BODY_MEMBERS.call };

type Members = { get: string[]; call: string[] };

/** Asks a light object for its real counterpart. */
export const REAL = Symbol("tsgw.real");

/**
 * Make `light` answer each member it does not define itself by building the
 * real object and asking it.
 */
export function delegateMembers(light: object, members: Members): void {
  const own = (key: string) => key === "constructor" || Object.prototype.hasOwnProperty.call(light, key);
  for (const key of members.call.filter((k) => !own(k))) {
    Object.defineProperty(light, key, {
      configurable: true,
      writable: true,
      value(this: { [REAL](): Record<string, (...a: unknown[]) => unknown> }, ...args: unknown[]) {
        return this[REAL]()[key]!(...args);
      },
    });
  }
  for (const key of members.get.filter((k) => !own(k))) {
    Object.defineProperty(light, key, {
      configurable: true,
      get(this: { [REAL](): Record<string, unknown> }) {
        return this[REAL]()[key];
      },
    });
  }
}

/** Once the native class is loaded: delegate whatever else its prototype has, and chain to it so `instanceof` holds. */
export function delegateTo(light: object, native: object): void {
  const members: Members = { get: [], call: [] };
  for (const key of Object.getOwnPropertyNames(native)) {
    const desc = Object.getOwnPropertyDescriptor(native, key)!;
    if (typeof desc.value === "function") members.call.push(key);
    else if (desc.get) members.get.push(key);
  }
  delegateMembers(light, members);
  Object.setPrototypeOf(light, native);
}

/** Unwrap light objects wherever native code would see them. */
export function real<T>(value: T): T {
  return value && typeof value === "object" && REAL in value ? (value as { [REAL](): T })[REAL]() : value;
}

/**
 * Light Request and Response objects for serving fetch apps from node:http,
 * and the globals tsgw installs for them (this is the import-order-sensitive
 * part: it must run before the app is imported).
 *
 * Why: on Node, constructing undici's Request and Response costs more than a
 * whole hello-world request in node:http, and reading a Response body back
 * out of a ReadableStream costs more again. So a request is a light object
 * that builds the real Request only when the app touches something beyond
 * method/url/headers, and (with the global Response swapped for LightResponse
 * in the serving process) a response made from a string or bytes is written
 * straight to the socket with a content-length, in one write.
 *
 * Both pass `instanceof Request` / `instanceof Response` (their prototypes
 * chain to the native ones), and the global Request and fetch unwrap a light
 * request, so apps that proxy (`fetch(request)`) or copy (`new Request(req)`)
 * keep working.
 */
import { nativeFetch, natives, real } from "./natives.ts";
import { LightResponse } from "./response.ts";
import "./request.ts"; // its prototype chains to the native Request once that is loaded

let compatRequest: typeof Request | undefined;

/**
 * The global Request tsgw installs: unwraps light requests given to it;
 * made (loading the native class) on first use. It is indistinguishable
 * from the native class to prototype inspection: a plain function that
 * returns the native object, with the native prototype (srvx copies the
 * body methods from `Object.getOwnPropertyNames(Request.prototype)`: a
 * subclass's prototype owns none of them, and POST bodies were lost).
 */
function compatRequestClass(): typeof Request {
  if (!compatRequest) {
    const { NativeRequest } = natives();
    const Request = function Request(this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      if (new.target === undefined) throw new TypeError("Class constructor Request cannot be invoked without 'new'");
      // an app's own subclass keeps its prototype
      return Reflect.construct(NativeRequest, [real(input), init], new.target === Request ? NativeRequest : new.target);
    } as unknown as typeof globalThis.Request;
    Object.setPrototypeOf(Request, NativeRequest);
    Object.defineProperty(Request, "prototype", { value: NativeRequest.prototype });
    // `request.constructor === Request`, as with the runtime's own global
    Object.defineProperty(NativeRequest.prototype, "constructor", { value: Request, writable: true, configurable: true });
    compatRequest = Request;
  }
  return compatRequest;
}

let compat = false;

/**
 * The light prototypes chain to the native ones (so `instanceof` with a
 * native class holds) once those are loaded: now, where they are (Bun,
 * Deno, or Node after something touched them), else when an app first
 * reaches for one of undici's other globals on Node.
 */
function chainOnLoad(): void {
  if (!Object.getOwnPropertyDescriptor(globalThis, "Response")?.get) return void natives();
  for (const name of ["Headers", "FormData", "MessageEvent"]) {
    const lazy = Object.getOwnPropertyDescriptor(globalThis, name);
    if (!lazy?.get) continue;
    Object.defineProperty(globalThis, name, {
      configurable: true,
      enumerable: lazy.enumerable,
      get() {
        natives();
        return lazy.get!.call(globalThis); // Node's getter, which replaces this property by the class
      },
      set: lazy.set,
    });
  }
}

/**
 * Let light requests pass wherever an app hands them to native code
 * (`new Request(request)`, `fetch(request)`): needed wherever fetch apps are
 * served from node:http, on any runtime.
 */
export function installRequestCompat(): void {
  if (compat) return;
  compat = true;
  chainOnLoad();
  // an accessor, as Node's own lazy globals are: the class is made when an app first asks for it
  Object.defineProperty(globalThis, "Request", {
    configurable: true,
    get: compatRequestClass,
    set: (value: unknown) => Object.defineProperty(globalThis, "Request", { value, writable: true, configurable: true }),
  });
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => nativeFetch()(real(input), init);
}

/** On Node, where node:http serves every fetch app: also the light Response. */
export function installLightGlobals(): void {
  installRequestCompat();
  Object.defineProperty(globalThis, "Response", { value: LightResponse, writable: true, configurable: true });
}

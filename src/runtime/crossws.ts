/**
 * crossws hooks (`{ open, message, close, error, upgrade }`, the portable
 * WebSocket API of srvx, h3 and Nitro) served by each runtime's crossws
 * adapter: node:http's "upgrade" event through `ws` (Node, and Deno where
 * node:http serves), Bun.serve's websocket handlers, Deno.upgradeWebSocket.
 * Loaded only for an app that has hooks.
 */
import type { FetchHandler, UpgradeListener } from "../app/contract.ts";
import { asksForWebSocket } from "../app/upgrade.ts";

type Hooks = Record<string, unknown>;

/** crossws hooks, as opposed to an options-only or empty object */
export function isHooks(value: unknown): value is Hooks {
  return !!value && typeof value === "object" && ["open", "message", "close", "error", "upgrade"].some((k) => typeof (value as Hooks)[k] === "function");
}

/** node:http: the upgrade listener that hands WebSocket handshakes to crossws. */
export async function crosswsNode(hooks: Hooks): Promise<UpgradeListener> {
  const { default: nodeAdapter } = await import("crossws/adapters/node");
  const ws = nodeAdapter({ hooks });
  return (req, socket, head) => {
    if (!asksForWebSocket(req.headers.upgrade)) return false;
    void ws.handleUpgrade(req, socket, head);
    return true;
  };
}

/** Bun.serve and Deno.serve: a handler that answers WebSocket handshakes through crossws and the rest through `handler`. */
export function withHandshakes(
  handler: FetchHandler,
  upgrade: (req: Request, info: Parameters<FetchHandler>[1]) => Promise<Response | undefined>,
): FetchHandler {
  return (req, info) => (asksForWebSocket(req.headers.get("upgrade")) ? (upgrade(req, info) as Promise<Response>) : handler(req, info));
}

/** Deno.serve: crossws's Deno adapter (Deno.upgradeWebSocket with the handler's own info). */
export async function crosswsDeno(hooks: Hooks): Promise<(req: Request, info: unknown) => Promise<Response>> {
  const { default: denoAdapter } = await import("crossws/adapters/deno");
  const ws = denoAdapter({ hooks });
  return (req, info) => ws.handleUpgrade(req, info as never);
}

/** Bun.serve: crossws's Bun adapter; its `websocket` goes to Bun.serve, handshakes to handleUpgrade (with the server). */
export async function crosswsBun(hooks: Hooks): Promise<{ websocket: unknown; upgrade: (req: Request, server: unknown) => Promise<Response | undefined> }> {
  const { default: bunAdapter } = await import("crossws/adapters/bun");
  const ws = bunAdapter({ hooks });
  return { websocket: ws.websocket, upgrade: (req, server) => ws.handleUpgrade(req, server as never) };
}

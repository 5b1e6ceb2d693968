/**
 * crossws hooks (`{ open, message, close, error, upgrade }`, the portable
 * WebSocket API of srvx, h3 and Nitro) served by each runtime's crossws
 * adapter: node:http's "upgrade" event through `ws` (Node, and Deno where
 * node:http serves), Bun.serve's websocket handlers, Deno.upgradeWebSocket.
 * Loaded only for an app that has hooks.
 */
import type { FetchHandler, UpgradeListener } from "../app/contract.ts";
import { asksForWebSocket, isWebSocketHandshake } from "../app/upgrade.ts";

type Hooks = Record<string, unknown>;

/** tsgw's WebSocket limits (websocket-ping, websocket-max-size), as ServeOptions carries them */
export interface WebSocketLimits {
  websocketPing: number;
  websocketMaxSize: number;
}

/** crossws hooks, as opposed to an options-only or empty object */
export function isHooks(value: unknown): value is Hooks {
  return !!value && typeof value === "object" && ["open", "message", "close", "error", "upgrade"].some((k) => typeof (value as Hooks)[k] === "function");
}

/**
 * node:http's "upgrade" event, and uwsgi tunnels: the upgrade listener that
 * hands WebSocket handshakes to crossws, through `ws`. On every runtime:
 * crossws's guard against Bun and Deno (its `default`) is for their own
 * servers, which have adapters of their own; on a node:http or uwsgi
 * connection of theirs, `ws` is what runs.
 */
export async function crosswsNode(hooks: Hooks, limits: WebSocketLimits): Promise<UpgradeListener> {
  const { _nodeAdapter: nodeAdapter } = await import("crossws/adapters/node");
  // crossws pings every idleTimeout and ends a socket that answered nothing since the last ping
  const ws = nodeAdapter({ hooks, idleTimeout: limits.websocketPing, serverOptions: { maxPayload: limits.websocketMaxSize } });
  return (req, socket, head) => {
    if (!asksForWebSocket(req.method, req.headers.upgrade)) return false;
    void ws.handleUpgrade(req, socket, head);
    return true;
  };
}

/** Bun.serve and Deno.serve: a handler that answers WebSocket handshakes through crossws and the rest through `handler`. */
export function withHandshakes(
  handler: FetchHandler,
  upgrade: (req: Request, info: Parameters<FetchHandler>[1]) => Promise<Response | undefined>,
): FetchHandler {
  return (req, info) => (isWebSocketHandshake(req) ? (upgrade(req, info) as Promise<Response>) : handler(req, info));
}

/** Deno.serve: crossws's Deno adapter (Deno.upgradeWebSocket with the handler's own info). */
export async function crosswsDeno(hooks: Hooks, limits: WebSocketLimits): Promise<(req: Request, info: unknown) => Promise<Response>> {
  const { default: denoAdapter } = await import("crossws/adapters/deno");
  // Deno pings after half its idleTimeout of quiet, and closes a socket that answered nothing by the end of it
  const ws = denoAdapter({ hooks, idleTimeout: limits.websocketPing * 2 });
  return (req, info) => ws.handleUpgrade(req, info as never);
}

/** Bun.serve: crossws's Bun adapter; its `websocket` goes to Bun.serve, handshakes to handleUpgrade (with the server). */
export async function crosswsBun(
  hooks: Hooks,
): Promise<{ websocket: Record<string, unknown>; upgrade: (req: Request, server: unknown) => Promise<Response | undefined> }> {
  const { default: bunAdapter } = await import("crossws/adapters/bun");
  const ws = bunAdapter({ hooks });
  // its idleTimeout goes: tsgw's limits apply to every Bun websocket alike (see the Bun shim)
  const { idleTimeout: _, ...websocket } = ws.websocket as Record<string, unknown>;
  return { websocket, upgrade: (req, server) => ws.handleUpgrade(req, server as never) };
}

/** Runtime.streamUpgrades: crossws's hooks, told by `isCrossws` (any hooks object on Node and Deno; Bun's shim has its own rule). */
export function crosswsStreams(
  websocket: unknown,
  limits: WebSocketLimits,
  isCrossws: (w: unknown) => w is Hooks = isHooks,
): Promise<UpgradeListener | undefined> {
  return isCrossws(websocket) ? crosswsNode(websocket, limits) : Promise.resolve(undefined);
}

/**
 * --watch (Gunicorn's --reload, for development): a change under the
 * watched folders reloads the workers through the master's ordinary reload,
 * the one HUP runs, so an app that no longer loads leaves the old workers
 * serving and says why. node_modules and dot files (.git, editors' swap
 * files) are never watched; --watch-ignore adds globs.
 */
import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { join, relative, sep } from "node:path";

/** a glob on a relative path as a RegExp: ** crosses folders, * and ? stay within a name */
export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** is a changed path (relative to its watched folder, / separated) one to act on? */
export function watchedPath(path: string, ignore: RegExp[]): boolean {
  const parts = path.split("/");
  if (parts.some((p) => p === "node_modules" || p.startsWith("."))) return false;
  return !ignore.some((re) => re.test(path) || re.test(parts.at(-1)!));
}

/** how long changes gather before one reload (an editor's save is several events) */
const DEBOUNCE_MS = 300;

export interface Watcher {
  close(): void;
}

/**
 * Watch `dirs`; `onChange` gets the first changed file of each burst. One
 * plain (inotify) watch per folder, set up before this returns, rather than
 * fs.watch's recursive mode, which Node 20 sets up in the background (a
 * change in its first moments is missed); folders made later are added as
 * they appear.
 */
export function watchFiles(dirs: string[], ignoreGlobs: string[], onChange: (file: string) => void, onProblem: (m: string) => void): Watcher {
  const ignore = ignoreGlobs.map(globRegExp);
  let timer: NodeJS.Timeout | undefined;
  let first: string | undefined;
  const watchers = new Map<string, FSWatcher>();
  const changed = (file: string) => {
    first ??= relative(process.cwd(), file) || file;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const name = first!;
      first = undefined;
      onChange(name);
    }, DEBOUNCE_MS);
  };
  const add = (root: string, dir: string) => {
    if (watchers.has(dir)) return;
    try {
      const w = watch(dir, (_event, name) => {
        if (!name) return;
        const full = join(dir, String(name));
        if (!watchedPath(under(root, full), ignore)) return;
        if (isFolder(full)) add(root, full);
        changed(full);
      });
      w.on("error", () => void watchers.delete(dir)); // the folder went away
      watchers.set(dir, w);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && watchedPath(under(root, join(dir, entry.name)), ignore)) add(root, join(dir, entry.name));
      }
    } catch (err) {
      if (dir === root) onProblem(`cannot watch ${dir}: ${(err as Error).message}`);
    }
  };
  for (const dir of dirs) add(dir, dir);
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
    },
  };
}

/** `path` under `root`, / separated, as globs and watchedPath read it */
const under = (root: string, path: string): string => relative(root, path).split(sep).join("/");

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

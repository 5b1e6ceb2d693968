/** APP specs: PATH[:NAME] where NAME may end in "()" to call a factory. */
export interface AppSpec {
  /** as written, for messages */
  text: string;
  path: string;
  name?: string;
  factory: boolean;
}

/** Returns the problem as a string when the spec cannot be read. */
export function parseAppSpec(text: string, callable?: string | null): AppSpec | string {
  const t = text.trim();
  if (!t) return "the app spec is empty (expected PATH[:NAME], e.g. demo:app)";
  // The NAME part is an identifier, optionally followed by "()". Anything else after
  // the last ":" is part of the path (e.g. C:\ on Windows never matches an identifier + path).
  const m = /^(.*?):([A-Za-z_$][\w$]*)(\(\))?$/.exec(t);
  const path = m ? m[1]! : t;
  if (!path) return `"${text}" names no module (expected PATH[:NAME])`;
  if (!m && /:[^/\\]*$/.test(t) && !/^[A-Za-z]:[\\/]/.test(t)) {
    return `"${text}": the part after ":" must be an export name, optionally with "()"`;
  }
  const name = m ? m[2] : callable?.replace(/\(\)$/, "") || undefined;
  const factory = m ? m[3] === "()" : !!callable?.endsWith("()");
  return { text: t, path, name, factory };
}

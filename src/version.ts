/** The release version; a test keeps package.json and deno.json in step with it. */
export const VERSION = "0.1.0";

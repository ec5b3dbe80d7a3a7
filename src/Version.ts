/** The daemon's version, reported by `/health` and on each computer; keep equal to package.json. */
export const VERSION = "0.1.0"

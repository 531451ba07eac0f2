export const MAX_LINES: number;
/** The modules `entries` load, themselves included. */
export function reachable(entries: readonly string[]): string[];
/** Every function of `file` with a body: its name (the enclosing one's, for an anonymous one), line and length. */
export function functionsOf(file: string, src?: string): { name: string; line: number; lines: number }[];

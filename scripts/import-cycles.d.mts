/** The modules `file` loads at run time (relative .ts specifiers, resolved). */
export function importsOf(file: string, src?: string): string[];
/** The cycles of `graph` (module → modules it loads), each once, starting at its first module by name. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][];

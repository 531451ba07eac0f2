/** JSON values as the plugin handles them: the one home of the object check. */
export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Is `v` nested deeper than `max` levels of objects and arrays? Iterative,
 * so a value too deep for the JSON writer cannot overflow the stack here.
 */
export function nestedDeeperThan(v: unknown, max: number): boolean {
  const todo: [unknown, number][] = [[v, 1]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [x, depth] = next;
    if (typeof x !== "object" || x === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(x) ? x : Object.values(x)) todo.push([child, depth + 1]);
  }
  return false;
}

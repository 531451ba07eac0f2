/**
 * Where in a JSON text something is: the first syntax error, or the value
 * at a validator path (dotted keys and [i] indices, as lib/validate.ts
 * reports them), as a line and column. Used only once there is an error to
 * report: a config that is valid never pays for it.
 *
 * One pass over the text, without recursion (any depth is fine) and
 * without building values. A path is compared as the validator writes it
 * (`base.key`, `base[i]`), so a key holding a dot (`cni.dev/valid-attachments`)
 * is found like any other.
 */

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units (a character for everything but astral ones). */
  column: number;
}

export interface JsonSyntaxError {
  offset: number;
  message: string;
}

/** The line and column of a string offset. */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** How an error names the config the plugin read on stdin, in `<stdin>:line:column`. */
export const STDIN = "<stdin>";

/** "line:column". */
export const formatPosition = (p: Position): string => `${p.line}:${p.column}`;

/** Thrown inside the scanner: a syntax error at `offset`. */
class Stop {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

type Frame = { kind: "object"; path: string; key?: string } | { kind: "array"; path: string; index: number };

const describe = (text: string, i: number): string => {
  if (i >= text.length) return "the end of the text";
  const c = text.codePointAt(i)!;
  if (c === 0xfeff) return "a byte order mark (U+FEFF): save the file without one";
  if (c < 0x20 || c === 0x7f) return `the control character U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
  if (c === 0x22) return `'"'`;
  // A bare word (yes, True, undefined ...) is named whole.
  const word = /[A-Za-z_][A-Za-z0-9_]*/y;
  word.lastIndex = i;
  return JSON.stringify(word.exec(text)?.[0].slice(0, 40) ?? String.fromCodePoint(c));
};

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: a JSON string may not hold U+0000-U+001F unescaped
const STRING_BODY = /[^"\\\u0000-\u001f]*/y;

/**
 * Walk `text` as JSON, calling `onValue(path, offset)` where each value
 * starts; returns the first syntax error, or undefined for a valid text.
 */
function scan(text: string, onValue?: (path: string, offset: number) => void): JsonSyntaxError | undefined {
  let i = 0;
  const stack: Frame[] = [];
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
  };
  const string = (): string => {
    const start = i;
    i++; // the opening quote
    let out = "";
    for (;;) {
      STRING_BODY.lastIndex = i;
      const m = STRING_BODY.exec(text)!;
      out += m[0];
      i += m[0].length;
      if (i >= text.length) throw new Stop(start, "a string that is never closed (a missing '\"')");
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c !== "\\") throw new Stop(i, `${describe(text, i)} inside a string: write it as an escape (\\n, \\t, \\u00XX)`);
      const e = text[i + 1];
      if (e === "u") {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, "\\u must be followed by 4 hex digits");
        out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        out += e;
        i += 2;
      } else throw new Stop(i, `\\${e ?? ""} is not a JSON escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`);
    }
  };
  /** A value starts at i: a scalar is consumed; a container is pushed, and the path of its first value returned. */
  const value = (path: string): string | undefined => {
    ws();
    onValue?.(path, i);
    const c = text[i];
    if (c === "{" || c === "[") {
      i++;
      ws();
      if (text[i] === (c === "{" ? "}" : "]")) {
        i++;
        return undefined;
      }
      if (c === "[") {
        stack.push({ kind: "array", path, index: 0 });
        return `${path}[0]`;
      }
      const frame: Frame & { kind: "object" } = { kind: "object", path };
      stack.push(frame);
      return key(frame);
    }
    if (c === '"') {
      string();
      return undefined;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m && m[0] !== "-") {
      i += m[0].length;
      return undefined;
    }
    throw new Stop(i, `expected a value (an object, list, string, number, true, false or null), got ${describe(text, i)}`);
  };
  /** An object member's key and colon; the path of its value. */
  const key = (frame: Frame & { kind: "object" }): string => {
    ws();
    if (text[i] !== '"') throw new Stop(i, `expected a key in double quotes, got ${describe(text, i)}`);
    const k = string();
    ws();
    if (text[i] !== ":") throw new Stop(i, `expected ":" after the key ${JSON.stringify(k)}, got ${describe(text, i)}`);
    i++;
    frame.key = k;
    return frame.path ? `${frame.path}.${k}` : k;
  };
  try {
    // Iterative: the next value to read, or (undefined) a "," or closing bracket of the innermost container.
    let next: string | undefined = "";
    for (;;) {
      if (next !== undefined) {
        next = value(next);
        continue;
      }
      ws();
      const top = stack[stack.length - 1];
      if (!top) break;
      const close = top.kind === "object" ? "}" : "]";
      if (text[i] === close) {
        i++;
        stack.pop();
      } else if (text[i] === ",") {
        i++;
        next = top.kind === "object" ? key(top) : `${top.path}[${++top.index}]`;
      } else {
        const after = top.kind === "object" ? `the value of ${JSON.stringify(top.key)}` : `item ${top.index}`;
        throw new Stop(i, `expected "," or "${close}" after ${after}, got ${describe(text, i)}`);
      }
    }
    if (i < text.length) throw new Stop(i, `text after the JSON value: ${describe(text, i)}`);
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, message: e.message };
    throw e;
  }
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
export function syntaxError(text: string): JsonSyntaxError | undefined {
  return scan(text);
}

/**
 * Where the value at `path` starts in `text` (valid JSON); a path that is
 * not there (a missing key the validator asks for) gives its nearest
 * enclosing value. Undefined when the text is not valid JSON.
 */
export function valueOffset(text: string, path: string): number | undefined {
  let best = -1;
  let bestLength = -1;
  const err = scan(text, (p, offset) => {
    const within = p === "" || p === path || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
    // A later value at the same path wins: JSON.parse keeps the last of duplicate keys.
    if (within && p.length >= bestLength) {
      best = offset;
      bestLength = p.length;
    }
  });
  return err || best < 0 ? undefined : best;
}

/** `valueOffset` as a line and column. */
export function valuePosition(text: string, path: string): Position | undefined {
  const o = valueOffset(text, path);
  return o === undefined ? undefined : positionAt(text, o);
}

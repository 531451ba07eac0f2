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
/** One pass over a JSON text; its methods are the steps of the tokenizer, sharing the position `i`. */
class Scanner {
  private i = 0;
  private readonly stack: Frame[] = [];

  constructor(
    private readonly text: string,
    private readonly onValue?: (path: string, offset: number) => void,
  ) {}

  private ws(): void {
    const { text } = this;
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.i++;
    }
  }

  private string(): string {
    const { text } = this;
    const start = this.i;
    this.i++; // the opening quote
    let out = "";
    for (;;) {
      STRING_BODY.lastIndex = this.i;
      const m = STRING_BODY.exec(text)!;
      out += m[0];
      this.i += m[0].length;
      const i = this.i;
      if (i >= text.length) throw new Stop(start, "a string that is never closed (a missing '\"')");
      if (text[i] === '"') {
        this.i++;
        return out;
      }
      if (text[i] !== "\\") throw new Stop(i, `${describe(text, i)} inside a string: write it as an escape (\\n, \\t, \\u00XX)`);
      const e = text[i + 1];
      if (e === "u") {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, "\\u must be followed by 4 hex digits");
        out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        this.i += 6;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        out += e;
        this.i += 2;
      } else throw new Stop(i, `\\${e ?? ""} is not a JSON escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`);
    }
  }

  /** A value starts here: a scalar is consumed; a container is pushed, and the path of its first value returned. */
  private value(path: string): string | undefined {
    this.ws();
    this.onValue?.(path, this.i);
    const { text } = this;
    const c = text[this.i];
    if (c === "{" || c === "[") return this.open(c, path);
    if (c === '"') {
      this.string();
      return undefined;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, this.i)) {
        this.i += word.length;
        return undefined;
      }
    }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(text);
    if (m && m[0] !== "-") {
      this.i += m[0].length;
      return undefined;
    }
    throw new Stop(this.i, `expected a value (an object, list, string, number, true, false or null), got ${describe(text, this.i)}`);
  }

  /** An object or list opens: empty, it is consumed; else pushed, and the path of its first value returned. */
  private open(c: "{" | "[", path: string): string | undefined {
    this.i++;
    this.ws();
    if (this.text[this.i] === (c === "{" ? "}" : "]")) {
      this.i++;
      return undefined;
    }
    if (c === "[") {
      this.stack.push({ kind: "array", path, index: 0 });
      return `${path}[0]`;
    }
    const frame: Frame & { kind: "object" } = { kind: "object", path };
    this.stack.push(frame);
    return this.key(frame);
  }

  /** An object member's key and colon; the path of its value. */
  private key(frame: Frame & { kind: "object" }): string {
    const { text } = this;
    this.ws();
    if (text[this.i] !== '"') throw new Stop(this.i, `expected a key in double quotes, got ${describe(text, this.i)}`);
    const k = this.string();
    this.ws();
    if (text[this.i] !== ":") throw new Stop(this.i, `expected ":" after the key ${JSON.stringify(k)}, got ${describe(text, this.i)}`);
    this.i++;
    frame.key = k;
    return frame.path ? `${frame.path}.${k}` : k;
  }

  /** After a value inside a container: a "," and the path of the next value, or the container's end (undefined). */
  private after(top: Frame): string | undefined {
    const close = top.kind === "object" ? "}" : "]";
    if (this.text[this.i] === close) {
      this.i++;
      this.stack.pop();
      return undefined;
    }
    if (this.text[this.i] === ",") {
      this.i++;
      return top.kind === "object" ? this.key(top) : `${top.path}[${++top.index}]`;
    }
    const what = top.kind === "object" ? `the value of ${JSON.stringify(top.key)}` : `item ${top.index}`;
    throw new Stop(this.i, `expected "," or "${close}" after ${what}, got ${describe(this.text, this.i)}`);
  }

  /** Iterative: the next value to read, or (undefined) a "," or closing bracket of the innermost container. */
  run(): JsonSyntaxError | undefined {
    try {
      let next: string | undefined = "";
      for (;;) {
        if (next !== undefined) {
          next = this.value(next);
          continue;
        }
        this.ws();
        const top = this.stack[this.stack.length - 1];
        if (!top) break;
        next = this.after(top);
      }
      if (this.i < this.text.length) throw new Stop(this.i, `text after the JSON value: ${describe(this.text, this.i)}`);
      return undefined;
    } catch (e) {
      if (e instanceof Stop) return { offset: e.offset, message: e.message };
      throw e;
    }
  }
}

function scan(text: string, onValue?: (path: string, offset: number) => void): JsonSyntaxError | undefined {
  return new Scanner(text, onValue).run();
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

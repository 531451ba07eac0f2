/** Small seeded generators for fuzz tests: reproducible from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  string(alphabet: string, max: number): string {
    let s = "";
    for (let i = this.int(max + 1); i > 0; i--) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** Any JSON value, bounded in depth. */
  json(depth = 3): unknown {
    const k = this.int(depth > 0 ? 8 : 5);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 7, 65536, 2 ** 53]);
      case 3:
        return this.string('abc/.:-_ 10@,[]{}"\\', 12);
      case 4:
        return this.pick(["", "bridge", "10.1.0.0/24", "::1", "1.0.0", "eth0", "../x"]);
      case 5:
      case 6: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--)
          o[this.pick(["name", "type", "cniVersion", "ipam", "plugins", "delegates", "x", "subnet"])] = this.json(depth - 1);
        return o;
      }
      default:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
    }
  }
  /** Replace, delete or add one value somewhere inside `v`. */
  mutate(v: unknown, depth = 0): unknown {
    if (v === null || typeof v !== "object" || depth > 4 || this.chance(0.25)) return this.json(2);
    if (Array.isArray(v)) {
      const c = [...v];
      if (c.length && this.chance(0.3)) c.splice(this.int(c.length), 1);
      else if (c.length) {
        const i = this.int(c.length);
        c[i] = this.mutate(c[i], depth + 1);
      } else c.push(this.json(2));
      return c;
    }
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    if (keys.length && this.chance(0.2)) delete o[this.pick(keys)];
    else if (keys.length && this.chance(0.8)) {
      const k = this.pick(keys);
      o[k] = this.mutate(o[k], depth + 1);
    } else o[this.string("abcdefgh", 6)] = this.json(2);
    return o;
  }
}

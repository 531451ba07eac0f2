/** The part of Bun's bun:ffi that lib/netns-probe.ts uses (Bun's own types are not a dependency). */
declare module "bun:ffi" {
  export const FFIType: { readonly i32: number; readonly u32: number; readonly cstring: number };
  export function dlopen<S extends Record<string, { args: number[]; returns: number }>>(
    path: string,
    symbols: S,
  ): { symbols: { [K in keyof S]: (...args: (number | Uint8Array)[]) => number } };
}

import t from "tap";
import { UndoStack } from "../lib/undo.ts";

t.test("unwind runs steps newest first and keeps going past failures", async (t) => {
  const order: string[] = [];
  const u = new UndoStack();
  u.push("one", () => void order.push("one"));
  u.push("two", () => {
    order.push("two");
    throw new Error("boom");
  });
  u.push("three", async () => void order.push("three"));
  t.same(await u.unwind(), ["two: boom"]);
  t.same(order, ["three", "two", "one"]);
  t.same(await u.unwind(), [], "a second unwind has nothing to do");
});

t.test("commit forgets the steps", async (t) => {
  const u = new UndoStack();
  let ran = false;
  u.push("x", () => {
    ran = true;
  });
  u.commit();
  await u.unwind();
  t.notOk(ran);
});

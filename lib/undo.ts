/**
 * Acquire-then-register-undo: every side effect of an ADD registers how to
 * reverse it; a failure unwinds them newest first, and the ADD commits only
 * when every step succeeded.
 */
export interface UndoStep {
  what: string;
  run: () => Promise<void> | void;
}

export class UndoStack {
  private steps: UndoStep[] = [];

  push(what: string, run: UndoStep["run"]): void {
    this.steps.push({ what, run });
  }

  /** Forget the steps: the work they would undo is now meant to stay. */
  commit(): void {
    this.steps = [];
  }

  /**
   * Run every step newest first; a failing step does not stop the others.
   * Returns one line per failed step.
   */
  async unwind(): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (e) {
        failures.push(`${step.what}: ${(e as Error).message}`);
      }
    }
    return failures;
  }
}

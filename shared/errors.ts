/**
 * Base of every error gem-flow raises on purpose. `code` is stable and machine-readable; `remedy` tells a
 * person what to change. Messages never carry secrets: subclasses are built from redacted inputs only.
 */
export abstract class GemFlowError extends Error {
  abstract readonly code: string;
  readonly remedy: string | undefined;

  constructor(message: string, options: { cause?: unknown; remedy?: string } = {}) {
    super(options.remedy ? `${message} ${options.remedy}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.remedy = options.remedy;
  }
}

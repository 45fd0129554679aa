import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Holds a secret so that logging, JSON serialisation or string interpolation of the object that contains it
 * shows `[redacted]`. Only `reveal()` returns the value, which keeps every use of the secret greppable.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * The one wrapper for secret strings. It sits on the ground floor of shared/, beside errors.ts, because the
 * settings (config.ts) hold secrets before anything else is built and the TomTom client hands out the wrapped
 * Vault token: whatever logs, serialises or interpolates an object carrying one sees `[redacted]`.
 */
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

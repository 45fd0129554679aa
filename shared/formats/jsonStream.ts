/**
 * A GeoJSON FeatureCollection as a stream of features, from bytes, with bounded memory: `@streamparser/json`'s
 * tokenizer does the lexing (strings, escapes, numbers, UTF-8 across chunk boundaries), and this module
 * assembles values from its tokens, handing each element of the top-level `features` array to a callback
 * and forgetting it, so the document's other members and the one feature being read are all that is held.
 * Every feature is bounded by `maxFeatureBytes` (checked on every token and after every chunk, so even a
 * single string larger than memory is stopped at the limit) and every value by `maxDepth`.
 */
import Tokenizer from '@streamparser/json/tokenizer.js';
import TokenType from '@streamparser/json/utils/types/tokenType.js';
import { errorMessage } from '../errors.js';
import { FormatError } from './errors.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Frame {
  value: Record<string, Json> | Json[];
  isArray: boolean;
  /** The member name a value is expected for (objects), once its key was read. */
  key: string | undefined;
  expectKey: boolean;
  /** True for the top-level `features` array, whose elements are emitted instead of kept. */
  isFeatures: boolean;
  /** True inside a value that is being skipped (a feature's geometry in a pass that needs only properties). */
  skip: boolean;
}

export interface CollectionLimits {
  maxFeatureBytes: number;
  maxDepth: number;
}

const SKIPPED: Json[] = [];

/** Sets a member without letting a `__proto__` key change the object's prototype. */
function setMember(target: Record<string, Json>, key: string, value: Json): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * Feeds a FeatureCollection's bytes and calls `onFeature` for each element of its `features` array, in
 * order. `root()` is the top-level object without `features` (its `type`, `crs`, `name`, …), complete once
 * `end()` returned.
 */
export class FeatureCollectionAssembler {
  private readonly tokenizer = new Tokenizer({ emitPartialTokens: true });
  private readonly stack: Frame[] = [];
  private rootValue: Json | undefined;
  private featureCount = 0;
  /** Byte offset where the feature being read started, or -1 between features. */
  private featureStart = -1;
  private fed = 0;

  constructor(
    private readonly limits: CollectionLimits,
    private readonly onFeature: (value: Json, index: number) => void,
    private readonly label: string,
    /** Do not build features' `geometry` values (they arrive as null): for a pass that reads properties only. */
    private readonly skipGeometry = false,
  ) {
    this.tokenizer.onToken = ({ token, value, offset, partial }) => {
      if (partial) {
        this.checkSize(offset);
        return;
      }
      this.token(token, value as Json, offset);
    };
    this.tokenizer.onError = (err) => {
      throw err;
    };
  }

  /** Feeds one chunk; throws FormatError on invalid JSON or a broken limit. */
  write(chunk: Uint8Array): void {
    this.fed += chunk.byteLength;
    try {
      this.tokenizer.write(chunk);
    } catch (err) {
      throw this.wrap(err);
    }
    this.checkSize(this.fed);
  }

  end(): void {
    try {
      this.tokenizer.end();
    } catch (err) {
      throw this.wrap(err);
    }
    if (this.stack.length > 0 || this.rootValue === undefined) {
      throw new FormatError('json-truncated', `${this.label} ends in the middle of the JSON document.`, {
        remedy: 'The file is cut short: export it again and upload the whole file.',
      });
    }
  }

  root(): Json | undefined {
    return this.rootValue;
  }

  get features(): number {
    return this.featureCount;
  }

  private wrap(err: unknown): unknown {
    if (err instanceof FormatError) return err;
    const detail = errorMessage(err);
    return new FormatError(
      'json-invalid',
      `${this.label} is not valid JSON after ${this.featureCount} features: ${detail.slice(0, 160)}.`,
      {
        cause: err,
        remedy: 'Export the file again; GeoJSON must be one valid JSON document.',
      },
    );
  }

  private checkSize(offset: number): void {
    if (this.featureStart >= 0 && offset - this.featureStart > this.limits.maxFeatureBytes) {
      throw new FormatError(
        'feature-too-large',
        `${this.label}: feature ${this.featureCount} is larger than ${this.limits.maxFeatureBytes} bytes.`,
        {
          remedy:
            'Split very long roads into shorter features, or simplify their geometry, and upload again.',
        },
      );
    }
  }

  private token(token: TokenType, value: Json, offset: number): void {
    this.checkSize(offset);
    const top = this.stack.at(-1);
    switch (token) {
      case TokenType.LEFT_BRACE:
      case TokenType.LEFT_BRACKET: {
        const isArray = token === TokenType.LEFT_BRACKET;
        if (this.stack.length >= this.limits.maxDepth) {
          throw new FormatError(
            'json-too-deep',
            `${this.label}: values nest deeper than ${this.limits.maxDepth} levels.`,
            {
              remedy: 'Flatten deeply nested properties before uploading.',
            },
          );
        }
        if (top?.isFeatures) this.featureStart = offset;
        const isFeatures = isArray && this.stack.length === 1 && !top!.isArray && top!.key === 'features';
        const skip =
          (top?.skip ?? false) ||
          (this.skipGeometry &&
            this.stack.length === 3 &&
            this.stack[1]!.isFeatures &&
            top!.key === 'geometry');
        this.stack.push({
          value: skip ? SKIPPED : isArray ? [] : {},
          isArray,
          key: undefined,
          expectKey: !isArray,
          isFeatures,
          skip,
        });
        return;
      }
      case TokenType.RIGHT_BRACE:
      case TokenType.RIGHT_BRACKET: {
        const frame = this.stack.pop();
        if (!frame) throw new Error('unbalanced close');
        this.complete(frame.isFeatures || frame.skip ? null : (frame.value as Json), frame.isFeatures);
        return;
      }
      case TokenType.COLON:
        if (top) top.expectKey = false;
        return;
      case TokenType.COMMA:
        if (top && !top.isArray) top.expectKey = true;
        return;
      case TokenType.SEPARATOR:
        return;
      default:
        if (top && !top.isArray && top.expectKey) {
          top.key = String(value);
          return;
        }
        if (top?.isFeatures) this.featureStart = offset;
        this.complete(value, false);
    }
  }

  /** A value is complete: emit it (a feature), attach it to its parent, or make it the root. */
  private complete(value: Json, wasFeatures: boolean): void {
    const parent = this.stack.at(-1);
    if (!parent) {
      this.rootValue = value;
      return;
    }
    if (parent.skip) return;
    if (parent.isFeatures) {
      this.featureStart = -1;
      this.onFeature(value, this.featureCount++);
      return;
    }
    if (parent.isArray) (parent.value as Json[]).push(value);
    else if (parent.key !== undefined) {
      // The features array itself is not kept on the root: only a marker that it was there.
      setMember(parent.value as Record<string, Json>, parent.key, wasFeatures ? [] : value);
      parent.key = undefined;
    }
  }
}

export type { Json };

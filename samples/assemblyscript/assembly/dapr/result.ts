// Result<T, E>: how this library reports failure.
//
// AssemblyScript cannot catch exceptions: `throw` aborts the whole module. So
// every call that can fail returns a Result (or `E | null` when there is no
// value), and the caller decides. `unwrap()` (or reading `value` of a failed
// result) is the opt-in "abort with a clear message" path.

/** The outcome of a call that yields a value of type T or an error E. */
export class Result<T, E extends Error> {
  private constructor(
    private readonly _value: T,
    /** The error, or null when the call succeeded. */
    readonly error: E | null,
  ) {}

  /** A successful result holding `value`. */
  static ok<T, E extends Error>(value: T): Result<T, E> {
    return new Result<T, E>(value, null);
  }

  /** A failed result holding `error`. T must be a reference type. */
  static fail<T, E extends Error>(error: E): Result<T, E> {
    if (!isReference<T>()) ERROR("Result<T, E>: T must be a reference type");
    return new Result<T, E>(changetype<T>(0), error);
  }

  /** True when the call succeeded. */
  get ok(): bool {
    return this.error === null;
  }

  /**
   * The value of a successful result. Reading it on a failed result aborts the
   * module with the error's message (never returns garbage).
   */
  get value(): T {
    const e = this.error;
    if (e !== null) throw e;
    return this._value;
  }

  /** Same as `value`: the value, or abort with the error's message. */
  unwrap(): T {
    return this.value;
  }
}

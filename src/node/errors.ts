/** A failure the HTTP layer reports as `{error: {code, message}}` with `status`. */
export class NodeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "NodeError";
  }
}

export const badRequest = (code: string, message: string) => new NodeError(400, code, message);
export const forbidden = (code: string, message: string) => new NodeError(403, code, message);
export const notFound = (code: string, message: string) => new NodeError(404, code, message);
export const conflict = (code: string, message: string) => new NodeError(409, code, message);
export const gone = (code: string, message: string) => new NodeError(410, code, message);
/** A well-formed, authenticated body the node cannot act on (a sealed kfrag it cannot open, a cleartext kfrag). */
export const unprocessable = (code: string, message: string) => new NodeError(422, code, message);

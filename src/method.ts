/**
 * `method({ params: schema, handler })`: a schema-checked method declared
 * outside `serve()`, with its handler's params typed from the schema's output
 * (inside `serve({ methods })` the same object needs no helper). A methods
 * object built from these is an API type: `connect<typeof methods>(url)`.
 */
import type { StandardSchemaV1 } from './standard-schema.js';
import type { AnyApi, HandlerContext, UntypedApi } from './types.js';

export function method<Schema extends StandardSchemaV1, Result, RemoteApi extends AnyApi = UntypedApi>(definition: {
  params: Schema;
  handler: (params: StandardSchemaV1.InferOutput<Schema>, ctx: HandlerContext<RemoteApi>) => Result;
}): { params: Schema; handler: (params: StandardSchemaV1.InferOutput<Schema>, ctx: HandlerContext<RemoteApi>) => Result } {
  return definition;
}

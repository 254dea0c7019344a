/**
 * What a Kafka API handler is: one descriptor per API (handlers/NN-name.ts), listed in handlers/index.ts.
 * ApiVersions and the dispatch table are built from that list.
 */
import type { Connection } from '../network/connection.ts';
import type { Init } from '../protocol/gen/init.ts';
import type { Broker } from './broker.ts';

export interface RequestContext {
  broker: Broker;
  conn: Connection;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

export interface Handler<Req, Res> {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** Returns the response, or null when none is due (acks=0 produce). Never throws for client errors. */
  handle(ctx: RequestContext, req: Req): Promise<Init<Res> | null>;
  /** A whole-request error response, for failures the handler did not catch. */
  errorResponse(req: Req, errorCode: number, ctx: RequestContext): Init<Res>;
}

export function defineHandler<Req, Res>(handler: Handler<Req, Res>): Handler<Req, Res> {
  return handler;
}

// Handlers are stored with their types erased: dispatch pairs each with its own generated codec.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = Handler<any, any>;

import type { components, operations } from '../../generated/openapi.js';
import { problems } from './problem.js';
import type { Reply } from './reply.js';

export type OperationId = keyof operations;

type Parameters<Op extends OperationId> = operations[Op]['parameters'];
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type Body<Op extends OperationId> = Json<operations[Op]['requestBody']>;
export type Query<Op extends OperationId> = NonNullable<Parameters<Op>['query']>;
export type PathParams<Op extends OperationId> = NonNullable<Parameters<Op>['path']>;
export type ResponseBody<Op extends OperationId, Status extends keyof operations[Op]['responses']> = Json<
  operations[Op]['responses'][Status]
>;

/** Who is calling, as the bearer check found them in the database (not as the token claims). */
export interface Caller {
  userId: string;
  role: components['schemas']['Role'];
  sessionId: string;
}

/** A validated request, as a handler sees it: typed from the spec, free of express and openapi-backend. */
export interface HandlerRequest<Op extends OperationId> {
  body: Body<Op>;
  query: Query<Op>;
  params: PathParams<Op>;
  headers: Record<string, string | undefined>;
  caller: Caller | undefined;
  /** The client address key (see clientAddress), worked out only when asked for. */
  client(): string;
  /** Whether the client has closed its connection, so that no answer can reach it. */
  gone(): boolean;
}

export type OperationHandler<Op extends OperationId> = (req: HandlerRequest<Op>) => Promise<Reply>;
export type OperationHandlers = { [Op in OperationId]?: OperationHandler<Op> };

/** For operations the spec secures: the bearer check has already run, so a caller is always there. */
export const authed =
  <Op extends OperationId>(handler: (req: HandlerRequest<Op>, caller: Caller) => Promise<Reply>): OperationHandler<Op> =>
  (req) => {
    if (!req.caller) throw problems.unauthorized();
    return handler(req, req.caller);
  };

/**
 * Errors on the SageMaker Runtime API (restJson1), in the shape every SDK parses (spec §1.6):
 * `x-amzn-ErrorType: <Code>` plus `{"message","Message"}`. `message` feeds `err.message` in JS
 * and botocore; `Message` fills the modelled member. An unexpected error is InternalFailure and
 * never shows a stack.
 */
import type { FastifyReply } from 'fastify';
import { AppError, ErrorCodes } from '../errors.js';

export interface WireError {
  status: number;
  code: string;
  message: string;
}

/** AWS caps Message at 2048 characters. */
const MAX_MESSAGE = 2048;

export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) {
    const { status, wireName } = ErrorCodes[err.code];
    return { status, code: wireName, message: err.message.slice(0, MAX_MESSAGE) };
  }
  return { status: 500, code: 'InternalFailure', message: 'The server hit an unexpected error; it is logged with this request id. Retry the request.' };
}

export function sendRuntimeError(reply: FastifyReply, requestId: string, wire: WireError): FastifyReply {
  return reply
    .code(wire.status)
    .header('x-amzn-RequestId', requestId)
    .header('x-amzn-ErrorType', wire.code)
    .header('content-type', 'application/json')
    .send(JSON.stringify({ message: wire.message, Message: wire.message }));
}

/** Errors on the SageMaker control plane (awsJson1_1): `{"__type","message"}`, read by every SDK and waiter. */
export function sendControlPlaneError(reply: FastifyReply, requestId: string, wire: WireError): FastifyReply {
  return reply
    .code(wire.status)
    .header('x-amzn-RequestId', requestId)
    .header('content-type', 'application/x-amz-json-1.1')
    .send(JSON.stringify({ __type: wire.code, message: wire.message }));
}

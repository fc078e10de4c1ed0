import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * A Step Functions task payload for a handler input `T`: every field given either as a value (recursively a payload
 * itself) or as `<field>.$` with a JSONPath. Distributes over unions, so a discriminated union keeps its members.
 * A misspelled field or a wrong literal is a compile error in the construct, not a runtime `InvalidInput`.
 */
export type Payload<T> = T extends unknown
  ? { readonly [K in keyof T]?: T[K] | Payload<NonNullable<T[K]>> } & { readonly [K in keyof T & string as `${K}.$`]?: string }
  : never;

/** `sfn.TaskInput.fromObject` for a typed {@link Payload}. */
export function taskInput<T>(payload: Payload<T>): sfn.TaskInput {
  return sfn.TaskInput.fromObject(payload as Record<string, unknown>);
}

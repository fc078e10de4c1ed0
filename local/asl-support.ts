/**
 * What of the Amazon States Language the local runner (aws-local-stepfunctions 3.0) can run faithfully. Pure: no I/O.
 *
 * Refused, with a message, rather than run wrongly:
 * - JSONata (`QueryLanguage: "JSONata"`, `Arguments`, `Output`, `Items`) and variables (`Assign`, `$name` paths):
 *   the library implements JSONPath only;
 * - Distributed Map features (`ItemReader`, `ItemBatcher`, `ResultWriter`, `ToleratedFailure*`), task `Credentials`,
 *   `.sync` and `.waitForTaskToken` integration patterns, except `ecs:runTask.waitForTaskToken` (the runner runs its
 *   container as a child process that answers with the token: ./ecs-task);
 * - `$$.State.*` and `$$.Task.*` context fields (the library does not provide them), except `$$.Task.Token` in that
 *   one integration (the runner provides it);
 * - `$$.Execution.Input` / `$$.Execution.StartTime` inside a Parallel branch or Map iterator (the library resets
 *   them to the branch input and branch start);
 * - a Pass state whose `Result` is `false`, `0`, `""` or `null` (the library passes the input through instead).
 */
import type { JsonValue } from './template-resolver';

/** A state of the definition, with where it sits. */
export interface StateEntry {
  readonly name: string;
  readonly state: Readonly<Record<string, JsonValue>>;
  /** True for states inside a Parallel branch or a Map iterator. */
  readonly nested: boolean;
}

/** Every state of a definition, nested ones included, in document order. */
export function collectStates(definition: Readonly<Record<string, JsonValue>>, nested = false): StateEntry[] {
  const entries: StateEntry[] = [];
  const states = definition.States;
  if (!isObject(states)) return entries;
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    entries.push({ name, state, nested });
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) if (isObject(branch)) entries.push(...collectStates(branch, true));
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (isObject(processor)) entries.push(...collectStates(processor, true));
    }
  }
  return entries;
}

const JSONATA_FIELDS = ['Arguments', 'Output', 'Items', 'Assign'];
const DISTRIBUTED_MAP_FIELDS = ['ItemReader', 'ItemBatcher', 'ResultWriter', 'ToleratedFailurePercentage', 'ToleratedFailurePercentagePath', 'ToleratedFailureCount', 'ToleratedFailureCountPath'];

/** Messages for every feature of `definition` the local runner cannot run faithfully; empty when it can. */
export function unsupportedFeatures(definition: Readonly<Record<string, JsonValue>>): string[] {
  const problems: string[] = [];
  if (definition.QueryLanguage === 'JSONata') problems.push('QueryLanguage "JSONata": aws-local-stepfunctions implements JSONPath only');
  const seen = new Set<string>();
  for (const { name, state, nested } of collectStates(definition)) {
    const at = `state "${name}"`;
    if (seen.has(name)) problems.push(`${at} is defined twice; state names must be unique in the whole state machine`);
    seen.add(name);
    if (state.QueryLanguage === 'JSONata') problems.push(`${at}: QueryLanguage "JSONata" is not supported (JSONPath only)`);
    for (const field of JSONATA_FIELDS) {
      if (field in state) problems.push(`${at}: ${field} (JSONata / variables) is not supported by aws-local-stepfunctions`);
    }
    for (const field of DISTRIBUTED_MAP_FIELDS) {
      if (field in state) problems.push(`${at}: ${field} (Distributed Map) is not supported by aws-local-stepfunctions`);
    }
    if ('Credentials' in state) problems.push(`${at}: task Credentials (cross-account role) is not supported locally`);
    const tokenTask = state.Type === 'Task' && typeof state.Resource === 'string' && /^arn:[a-z-]+:states:::ecs:runTask\.waitForTaskToken$/.test(state.Resource);
    if (!tokenTask && state.Type === 'Task' && typeof state.Resource === 'string' && /\.(sync(:2)?|waitForTaskToken)$/.test(state.Resource)) {
      problems.push(`${at}: the integration pattern of ${state.Resource} is not supported locally (request-response only)`);
    }
    if (state.Type === 'Pass' && 'Result' in state && !state.Result) {
      problems.push(`${at}: a falsy Result (${JSON.stringify(state.Result)}) is replaced by the state input in aws-local-stepfunctions; wrap it in an object`);
    }
    for (const [field, value] of Object.entries(state)) {
      if (field === 'Branches' || field === 'ItemProcessor' || field === 'Iterator') continue;
      for (const path of pathExpressions(value)) {
        if (/^\$\$\.(State|Task)\b/.test(path) && !(tokenTask && path === '$$.Task.Token')) problems.push(`${at}: ${path} is not provided by aws-local-stepfunctions`);
        if (nested && /^\$\$\.Execution\.(Input|StartTime)\b/.test(path)) {
          problems.push(`${at}: ${path} inside a Parallel branch or Map iterator is the branch's own input/start in aws-local-stepfunctions; pass the value in through Parameters/ItemSelector`);
        }
        if (/^\$[A-Za-z_]/.test(path)) problems.push(`${at}: variable reference ${path} is not supported (no variables in aws-local-stepfunctions)`);
        if (/States\.[A-Za-z]+\(.*\$\$\.(State|Task)\b/.test(path)) problems.push(`${at}: ${path} uses a context field aws-local-stepfunctions does not provide`);
      }
    }
  }
  return problems;
}

/** JSONPath expressions used by a state field: values of `*.$` keys and of `*Path` fields, recursively. */
function pathExpressions(value: JsonValue, key = ''): string[] {
  if (typeof value === 'string') return key.endsWith('.$') || key.endsWith('Path') || key === 'Variable' ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => pathExpressions(item, key === 'Choices' || key === 'And' || key === 'Or' ? '' : key));
  if (isObject(value)) return Object.entries(value).flatMap(([childKey, child]) => pathExpressions(child, childKey));
  return [];
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

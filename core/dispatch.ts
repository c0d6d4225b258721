import type { HookMap } from 'tapable';
import type { OcipullError } from './errors/errors.js';
import { hasTaps } from './hooks.js';

/** A keyed bail hook as the orchestrator declares them: `promise(request)` answers or passes. */
// biome-ignore lint/suspicious/noExplicitAny: any request, any answer
type BailHook = { promise(request: any): Promise<any> };
type Answer<H extends BailHook> = NonNullable<Awaited<ReturnType<H['promise']>>>;

/**
 * Call `map.for(key)` with `request` and return its answer. When no plugin tapped the key,
 * `missing()` is thrown (the typed "no plugin for X" error); when every tap passed (answered
 * undefined), `unanswered()` is, which defaults to `missing()`. The one place keyed dispatch
 * and its "nobody answered" error live.
 */
export async function callKeyed<H extends BailHook>(
  map: HookMap<H>,
  key: string,
  request: Parameters<H['promise']>[0],
  missing: () => OcipullError,
  unanswered: () => OcipullError = missing,
): Promise<Answer<H>> {
  const hook = hasTaps(map, key) ? map.get(key) : undefined;
  if (!hook) throw missing();
  const answer = await hook.promise(request);
  if (!answer) throw unanswered();
  return answer as Answer<H>;
}

/**
 * Services a tap hands back (a BlobCache from `cache`, a Source / Destination from `resolve`)
 * are called by the core directly, outside any hook. `guardService` wraps such an object so
 * that what its methods throw or reject with names the plugin and the member, exactly as an
 * error thrown by the tap itself would (see wrapPluginError).
 */
import { EventEmitter } from 'node:events';
import { wrapPluginError } from './errors.js';

const guardedObjects = new WeakSet<object>();

/** Objects worth guarding: they have methods and are not streams, buffers or promises. */
function isService(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (guardedObjects.has(value)) return false;
  if (value instanceof EventEmitter || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return false;
  if (value instanceof Promise || Array.isArray(value) || value instanceof Date) return false;
  for (
    let proto: object | null = value;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, key);
      if (descriptor && typeof descriptor.value === 'function') return true;
    }
  }
  return false;
}

/**
 * Wrap `service` so its methods' errors name `plugin` and `${hook}.${method}`. Methods run on
 * the original object (`this` is never the proxy); a result that is itself a service (a cache
 * writer, a Source served offline) is guarded the same way, as are services inside a plain
 * object result (`{kind: 'miss', writer}`). Anything else is returned untouched.
 */
export function guardService<T>(service: T, plugin: string, hook: string): T {
  if (!isService(service)) return service;
  const target = service as object;
  const wrappers = new Map<PropertyKey, unknown>();
  const proxy = new Proxy(target, {
    get(object, key, receiver) {
      const value = Reflect.get(object, key, receiver === proxy ? object : receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      const cached = wrappers.get(key);
      if (cached && (cached as { original?: unknown }).original === value) return cached;
      const member = `${hook}.${String(key)}`;
      const guardResult = (result: unknown): unknown => guardResultOf(result, plugin, member);
      const wrapper = Object.assign(
        (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(object, args);
          } catch (error) {
            throw wrapPluginError(error, plugin, member);
          }
          if (result instanceof Promise) {
            return result.then(guardResult, (error: unknown) => {
              throw wrapPluginError(error, plugin, member);
            });
          }
          return guardResult(result);
        },
        { original: value },
      );
      wrappers.set(key, wrapper);
      return wrapper;
    },
  });
  guardedObjects.add(proxy);
  return proxy as T;
}

function guardResultOf(result: unknown, plugin: string, member: string): unknown {
  const plain =
    result !== null &&
    typeof result === 'object' &&
    [Object.prototype, null].includes(Object.getPrototypeOf(result));
  if (!plain) return guardService(result, plugin, member);
  // A plain object (a cache handle): guard its members that are services (its writer, its blob),
  // in a copy, and the object itself when it has methods of its own (a hit's release()).
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(result as Record<string, unknown>)) {
    if (typeof value === 'function') continue;
    const guarded = guardService(value, plugin, `${member}→${key}`);
    if (guarded === value) continue;
    copy ??= { ...(result as Record<string, unknown>) };
    copy[key] = guarded;
  }
  return guardService(copy ?? result, plugin, member);
}

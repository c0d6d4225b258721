/** Turn registry answers that are not what was asked for into ocipull errors. */
import { type ErrorCode, OcipullError } from 'ocipull';
import { discard, displayUrl, type HttpResponse, header } from './http.js';

const ERROR_BODY_LIMIT = 16 * 1024;

export async function readSmallBody(response: HttpResponse, limit = ERROR_BODY_LIMIT): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      const buf = Buffer.from(chunk as Uint8Array);
      chunks.push(buf);
      total += buf.length;
      if (total >= limit) break;
    }
  } catch {
    // what we have is enough for a message
  }
  response.body.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` → codes and a readable summary. */
export function registryErrors(text: string): { codes: string[]; summary: string } {
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      const codes = parsed.errors.map((e) => String(e.code ?? ''));
      const summary = parsed.errors
        .map(
          (e) =>
            `${e.code ?? 'ERROR'}: ${e.message ?? ''}${e.detail !== undefined ? ` (${JSON.stringify(e.detail).slice(0, 200)})` : ''}`,
        )
        .join('; ');
      return { codes, summary };
    }
  } catch {
    // not JSON: shown as text
  }
  return { codes: [], summary: text.replace(/\s+/g, ' ').trim().slice(0, 300) };
}

export function isHtml(response: HttpResponse): boolean {
  const type = header(response, 'content-type') ?? '';
  return /^\s*(text\/html|application\/xhtml)/i.test(type);
}

export function unexpectedResponse(response: HttpResponse, what: string, problem: string): OcipullError {
  return new OcipullError(
    'UNEXPECTED_RESPONSE',
    `${what}: ${displayUrl(response.url)} answered HTTP ${response.status} with ${header(response, 'content-type') ?? 'no content type'}: ${problem}`,
    {
      hint: 'this is not a registry API answer: a proxy, captive portal or web server may be in the way',
      data: {
        url: displayUrl(response.url),
        status: response.status,
        contentType: header(response, 'content-type'),
      },
    },
  );
}

export interface StatusContext {
  what: string;
  /** What a 404 means here. */
  notFound: ErrorCode;
  /** Credential source tried, or the list of places looked at. */
  credentials?: string;
  notFoundHint?: string;
}

/** An error for a non-success answer, with the registry's own error body shown. */
export async function statusError(response: HttpResponse, ctx: StatusContext): Promise<OcipullError> {
  if (isHtml(response)) {
    await discard(response);
    return unexpectedResponse(response, ctx.what, 'an HTML page');
  }
  const text = await readSmallBody(response);
  const { codes, summary } = registryErrors(text);
  const said = summary ? `: ${summary}` : '';
  const where = displayUrl(response.url);
  const data = { url: where, status: response.status, registryErrors: codes };
  switch (response.status) {
    case 401:
      return new OcipullError('UNAUTHORIZED', `${ctx.what}: the registry answered 401 Unauthorized${said}`, {
        hint: ctx.credentials ?? 'log in (an auth file entry) or pass --creds USER:PASSWORD',
        data,
      });
    case 403:
      return new OcipullError('DENIED', `${ctx.what}: the registry answered 403 Forbidden${said}`, {
        hint: ctx.credentials ?? 'these credentials may not read this repository',
        data,
      });
    case 404: {
      const code = codes.includes('NAME_UNKNOWN') ? 'NAME_UNKNOWN' : ctx.notFound;
      return new OcipullError(code, `${ctx.what}: not found (404 from ${where})${said}`, {
        hint: ctx.notFoundHint,
        data,
      });
    }
    case 429:
      return new OcipullError(
        'TOO_MANY_REQUESTS',
        `${ctx.what}: the registry kept answering 429 Too Many Requests${said}`,
        {
          hint: 'wait and try again, or log in (anonymous pulls are rate-limited harder)',
          data,
        },
      );
    default:
      if (response.status >= 500) {
        return new OcipullError(
          'SERVER_ERROR',
          `${ctx.what}: the registry kept answering HTTP ${response.status}${said}`,
          { data },
        );
      }
      return new OcipullError(
        'UNEXPECTED_RESPONSE',
        `${ctx.what}: unexpected HTTP ${response.status} from ${where}${said}`,
        { data },
      );
  }
}

/**
 * The ClientRequestToken of every stack operation Cairn starts (ExecuteChangeSet, DeleteStack).
 * CloudFormation stamps it on each status event of that operation, and a "Stack Status Change"
 * event carries the stack id, the stack name and this token, never the stack's tags, and a deleted
 * stack cannot be looked up by name. So the token names the source that started the operation:
 * `cairn-…` (what the EventBridge rule matches) followed by `-S<source>`. Source names are lower
 * case, so the upper-case marker cannot occur inside one; tokens allow `[a-zA-Z][-a-zA-Z0-9]*`, at
 * most 128 characters.
 */

const MARK = '-S';
const SOURCE_NAME = /^[a-z0-9-]{1,64}$/;
const MAX_TOKEN = 128;

/** `base` (which starts with `cairn-`) with `source` encoded at its end, when the source's name fits in a token. */
export function requestToken(base: string, source: string): string {
  const token = `${base}${MARK}${source}`;
  return SOURCE_NAME.test(source) && token.length <= MAX_TOKEN ? token : base;
}

/** The source a token made by requestToken names, or undefined for any other token. */
export function sourceOfToken(token: string | undefined): string | undefined {
  if (!token?.startsWith('cairn-')) return undefined;
  const at = token.lastIndexOf(MARK);
  const source = at < 0 ? '' : token.slice(at + MARK.length);
  return SOURCE_NAME.test(source) ? source : undefined;
}

/**
 * Security: GitLab's signing-token verification cannot be bypassed during a rotation. With a
 * signing token and a plain token both configured, a delivery without `webhook-signature` is
 * refused even when its `X-Gitlab-Token` matches either secret, and a signed one outside the replay
 * window stays refused; with plain tokens only, the token check works as before.
 */
import { describe, expect, it } from 'vitest';
import { gitlab, SIGNATURE_TOLERANCE_SECONDS } from '../../lib/webhooks/gitlab.js';
import { hmacSha256 } from '../../lib/webhooks/provider.js';

const NOW = new Date('2026-01-01T12:00:00Z');
const KEY = Buffer.alloc(32, 7);
const SIGNING = `whsec_${KEY.toString('base64')}`;
const PLAIN = 'plain-rotation-token';
const BODY = Buffer.from('{"object_kind":"push","ref":"refs/heads/main"}');

function signed(at: Date, body = BODY): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = hmacSha256(KEY, Buffer.concat([Buffer.from(`msg-1.${timestamp}.`), body])).toString('base64');
  return { 'x-gitlab-event': 'Push Hook', 'webhook-id': 'msg-1', 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

describe('Security: GitLab signing-token rotation', () => {
  it.each([
    ['the plain token kept for the rotation', PLAIN],
    ['the signing token sent as a plain token', SIGNING],
  ])('refuses an unsigned delivery whose X-Gitlab-Token is %s', async (_what, token) => {
    expect(await gitlab.verify(BODY, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token }, [SIGNING, PLAIN], NOW)).toBe('missing');
  });

  it('accepts a signed delivery during the rotation, and refuses a replay outside the window even with a valid token', async () => {
    expect(await gitlab.verify(BODY, signed(NOW), [SIGNING, PLAIN], NOW)).toBe('valid');
    const old = new Date(NOW.getTime() - (SIGNATURE_TOLERANCE_SECONDS + 60) * 1000);
    expect(await gitlab.verify(BODY, { ...signed(old), 'x-gitlab-token': PLAIN }, [SIGNING, PLAIN], NOW)).toBe('expired');
  });

  it('still checks plain tokens when no signing token is configured', async () => {
    const headers = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': PLAIN };
    expect(await gitlab.verify(BODY, headers, ['old-token', PLAIN], NOW)).toBe('valid');
    expect(await gitlab.verify(BODY, { ...headers, 'x-gitlab-token': 'guess' }, ['old-token', PLAIN], NOW)).toBe('mismatch');
  });
});

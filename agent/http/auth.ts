import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sameSecret, type Secret } from '../secret.js';
import { esc, layout } from './html.js';

export const SESSION_COOKIE = 'cowbell_session';
const SESSION_MS = 30 * 86_400_000;
/** Wrong passwords allowed per address and minute before the login answers 429. */
const MAX_FAILURES = 5;

/**
 * The farm page's login, for an agent bound beyond loopback (`http.password`). A browser logs in once and
 * keeps a signed cookie for 30 days (HttpOnly, SameSite=Strict: another site's page can neither read it nor
 * send it); a tool sends the password as a bearer token. Sessions are signed with a key made from the
 * password, so nothing is stored, a restart signs no one out, and a new password signs everyone out.
 */
export class PageAuth {
  private readonly key: Buffer;
  private readonly expected: Buffer;
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(password: Secret, private readonly clock: () => number) {
    this.key = createHmac('sha256', 'cowbell session key').update(password.reveal()).digest();
    this.expected = this.digest(password.reveal());
  }

  /** A bearer token equal to the password, or a session cookie this agent signed and that has not run out. */
  allows(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      // Guesses by token count against the same limit as guesses at the login form.
      const remote = req.socket.remoteAddress ?? 'unknown';
      if (this.throttled(remote)) return false;
      const ok = this.isPassword(auth.slice(7).trim());
      if (!ok) this.failed(remote);
      return ok;
    }
    const cookie = cookies(req.headers.cookie)[SESSION_COOKIE];
    if (!cookie) return false;
    const [v, exp, sig] = cookie.split('.');
    if (v !== 'v1' || !exp || !sig || !(Number(exp) > this.clock())) return false;
    return sameSecret(sig, this.sign(exp));
  }

  /** Compared as digests, so the time taken says nothing about the password's length or first letters. */
  isPassword(given: string): boolean {
    return timingSafeEqual(this.digest(given), this.expected);
  }

  /** True while `remote` has had too many wrong passwords this minute. */
  throttled(remote: string): boolean {
    const f = this.failures.get(remote);
    return !!f && this.clock() - f.since < 60_000 && f.count >= MAX_FAILURES;
  }

  failed(remote: string): void {
    const now = this.clock();
    if (this.failures.size > 10_000) this.failures.clear();
    const f = this.failures.get(remote);
    if (!f || now - f.since >= 60_000) this.failures.set(remote, { count: 1, since: now });
    else f.count++;
  }

  sessionCookie(): string {
    const exp = String(this.clock() + SESSION_MS);
    return `${SESSION_COOKIE}=v1.${exp}.${this.sign(exp)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
  }

  static clearCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  private sign(exp: string): string {
    return createHmac('sha256', this.key).update(`v1.${exp}`).digest('base64url');
  }

  private digest(s: string): Buffer {
    return createHmac('sha256', this.key).update(`password:${s}`).digest();
  }
}

/** Paths open without a login: a supervisor's health check, the chat services' signed webhooks, the login itself and static assets. */
export function isPublic(path: string): boolean {
  return path === '/healthz' || path === '/login' || path.startsWith('/webhooks/') || path.startsWith('/assets/');
}

/** A path on this site to go back to after logging in; anything else (another site) is the overview. */
export function localPath(next: string | null): string {
  // Browsers drop tabs and newlines in a Location and read "\" as "/": "/\t/evil.example" would be
  // "//evil.example", another site. So: one leading slash, then no control character and no backslash.
  return next && /^\/(?![/\\])[^\\\u0000-\u001f\u007f]*$/.test(next) ? next : '/';
}

export function loginPage(farm: string, next: string, error?: string): string {
  return layout({
    title: `Cowbell · ${farm} · log in`,
    heading: `Cowbell · ${esc(farm)}`,
    body: `<section><h2>Log in</h2>${error ? `<p class="bad">${esc(error)}</p>` : ''}
<form method="post" action="/login"><input type="hidden" name="next" value="${esc(next)}">
<p><label>Password <input type="password" name="password" autocomplete="current-password" required autofocus></label></p>
<p><button>Log in</button></p></form>
<p class="muted">The password is http.password in the agent's config.</p></section>`,
  });
}

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

// A real OpenID provider on loopback for the sign-in tests: panva's oidc-provider with users that carry
// group claims, a plain login form (what a browser test fills in) and a test-only endpoint to change users
// while it runs (to remove someone from a group, or disable them, between two refreshes).
//
// Usage: node idp.mjs CONFIG.json
//   CONFIG: {"clients": [{client_id, client_secret, redirect_uris}],
//            "users": [{"username", "password", "email", "name", "groups": [...]}], "port": 0}
// Prints one JSON line {"issuer": "http://127.0.0.1:PORT"} on stdout once it listens; stops on SIGTERM.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let users = new Map(config.users.map((u) => [u.username, u]));

function account(username) {
  const user = users.get(username);
  if (!user || user.disabled) return undefined;
  return {
    accountId: username,
    async claims() {
      // Read again on every call, so a refresh sees group changes made through /_test/users.
      const current = users.get(username) ?? user;
      return {
        sub: username,
        email: current.email,
        email_verified: true,
        name: current.name ?? username,
        groups: current.groups ?? [],
      };
    },
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-idp', use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    // Groups ride on `profile`, as many IdPs do, so the router's default scopes bring them.
    profile: ['name', 'groups'],
  },
  // Claims in the ID token too (not only at userinfo), as the router reads them there first.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  findAccount: (ctx, sub) => account(sub),
  // Refresh tokens whenever the client may use them (offline_access without prompt=consent is dropped).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // A refresh looks the account up again: a disabled user's refresh fails with invalid_grant.
  rotateRefreshToken: true,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Consent is implied for the test clients: grant what was asked, so only the login form remains.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86400, Session: 86400, Grant: 86400, Interaction: 600 },
});
provider.proxy = false;
// Routers under test listen on free ports, unknown when the IdP starts: any loopback /oidc/callback is a
// registered redirect URI here (a test IdP only; a real one lists the exact URI).
const registered = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function allowed(value) {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' && url.hostname === '127.0.0.1' && url.pathname === '/oidc/callback') return true;
  } catch {
    return false;
  }
  return registered.call(this, value);
};

function escape(value) {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Test IdP sign-in</title></head><body>
<h1>Test IdP</h1>${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function interaction(req, res, path) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(loginPage(details.uid));
    return;
  }
  if (req.method === 'POST' && path.endsWith('/login')) {
    const form = new URLSearchParams(await readBody(req));
    const user = users.get(form.get('username') ?? '');
    if (!user || user.password !== form.get('password') || user.disabled) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(loginPage(details.uid, 'wrong username or password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user.username } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  res.writeHead(405);
  res.end();
}

server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (path.startsWith('/interaction/')) {
      await interaction(req, res, path);
      return;
    }
    if (path === '/_test/users' && req.method === 'POST') {
      // Test-only: replace the users (groups changed, someone disabled) while the IdP keeps its sessions.
      const next = JSON.parse(await readBody(req));
      users = new Map(next.map((u) => [u.username, u]));
      res.writeHead(204);
      res.end();
      return;
    }
    provider.callback()(req, res);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err && err.message));
  }
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ issuer })}\n`);

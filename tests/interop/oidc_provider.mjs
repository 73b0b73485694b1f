// node's oidc-provider (a certified OpenID provider) configured like Google for an installed
// application: a native client whose loopback redirect may use any port, PKCE required,
// `access_type=offline` accepted, refresh tokens that rotate on every use (reusing an old one
// revokes the whole grant), revocation, the device flow, and a Google-shaped tokeninfo.
//
// Usage: node oidc_provider.mjs PORT   (GAUTH_NODE_MODULES names the node_modules folder)
// Prints "READY <issuer>" once listening. GET /__stats answers the grant counters as JSON.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const port = Number(process.argv[2]);
const modules = process.env.GAUTH_NODE_MODULES;
if (!port || !modules) {
  console.error('usage: GAUTH_NODE_MODULES=... node oidc_provider.mjs PORT');
  process.exit(2);
}
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

const issuer = `http://127.0.0.1:${port}`;
const stats = { grants: {}, errors: {}, revoked: 0 };
const count = (table, key) => { table[key] = (table[key] || 0) + 1; };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'gauth-native.apps.example',
    client_secret: 'gauth-native-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: ['http://127.0.0.1/', 'http://[::1]/'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
  }],
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true }),
  }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  extraParams: ['access_type', 'include_granted_scopes', 'hd'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  // Google issues a refresh token for access_type=offline without the offline_access scope.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Rotate on every use; oidc-provider revokes the grant when a used one comes back.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: Number(process.env.OIDC_ACCESS_TOKEN_TTL || 3600),
    DeviceCode: 600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 3600,
  },
  cookies: { keys: ['gauth-interop-cookie-key'] },
});

provider.on('grant.success', (ctx) => count(stats.grants, ctx.oidc.params.grant_type));
provider.on('grant.error', (ctx, err) => count(stats.errors, err.error || err.name));
provider.on('grant.revoked', () => { stats.revoked += 1; });

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Google's tokeninfo: POST (or GET) access_token=..., Google's field names and string numbers.
provider.use(async (ctx, next) => {
  if (ctx.path === '/__stats') {
    ctx.type = 'json';
    ctx.body = JSON.stringify(stats);
    return;
  }
  if (ctx.path === '/tokeninfo') {
    const params = ctx.method === 'POST' ? await body(ctx.req) : new URLSearchParams(ctx.querystring);
    const value = params.get('access_token') || '';
    const token = value ? await provider.AccessToken.find(value) : undefined;
    ctx.type = 'json';
    if (!token || token.isExpired) {
      ctx.status = 400;
      ctx.body = JSON.stringify({ error: 'invalid_token', error_description: 'Invalid Value' });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    ctx.body = JSON.stringify({
      azp: token.clientId,
      aud: token.clientId,
      sub: token.accountId,
      scope: token.scope,
      exp: String(token.exp),
      expires_in: String(token.exp - now),
      email: `${token.accountId}@example.test`,
      email_verified: 'true',
      access_type: 'offline',
    });
    return;
  }
  await next();
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

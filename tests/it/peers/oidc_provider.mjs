// A real OpenID provider for tests/it/review_oidc.rs: panva's certified
// `oidc-provider` (tests/it/peers/oidc/, pinned in its package-lock.json;
// `.ci/run` installs it), with its development login form (any login, any
// password) and one confidential client, the matterwall under test.
//
//   node oidc_provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI [TAMPER]
//
// The issuer is http://localhost:PORT (plain HTTP on loopback, which the
// provider allows outside production). Accounts are their login; the
// `groups` claim says who they are to matterwall:
//   rita@firm.example -> ["staff", "mw-reviewers"]
//   ada@firm.example  -> ["mw-admins"]
//   anyone else       -> ["staff"] (no matterwall role)
//
// TAMPER makes the token endpoint hand out an ID token the relying party
// must refuse, signed with the provider's own key so that only the claim
// under test is wrong: `audience` (aud names another client) or `expired`
// (exp an hour ago). Each redirect the provider sends back to the client
// is printed as `redirect <url>` so a test can replay it.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'oidc', 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const [port, clientId, clientSecret, redirectUri, tamper = ''] = process.argv.slice(2);
const issuer = `http://localhost:${port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

function groupsOf(login) {
  if (login === 'rita@firm.example') return ['staff', 'mw-reviewers'];
  if (login === 'ada@firm.example') return ['mw-admins'];
  return ['staff'];
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  scopes: ['openid', 'email', 'groups'],
  // The claims asked for by scope go into the ID token itself, as Entra ID
  // and Okta put `groups` there.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, groups: groupsOf(id) };
      },
    };
  },
  // A first-party client: no consent screen, as a firm's IdP is set up.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email groups');
    await grant.save();
    return grant;
  },
});

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unb64 = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());

/// The same token with one claim changed, signed again with the same key.
function tampered(idToken) {
  const [h, p] = idToken.split('.');
  const header = unb64(h);
  const claims = unb64(p);
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'audience') claims.aud = 'another-client';
  if (tamper === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  return `${input}.${sig}`;
}

provider.use(async (ctx, next) => {
  await next();
  const location = ctx.response.get('location');
  if (location && location.startsWith(redirectUri)) console.log(`redirect ${location}`);
  if (tamper && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token) };
  }
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));

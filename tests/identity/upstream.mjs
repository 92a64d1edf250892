// An independent OpenID provider (npm oidc-provider) standing in for FranceConnect, AGOV or
// the Swiss e-ID: any login is accepted and becomes the account id.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const oidc = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'socle',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  cookies: { keys: ['upstream-test-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
  },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: `${id}@upstream.example`,
      email_verified: true,
      given_name: 'Uma',
      family_name: 'Upstream',
    }),
  }),
  features: { devInteractions: { enabled: true } },
});
oidc.listen(port, '127.0.0.1', () => console.log('ready'));

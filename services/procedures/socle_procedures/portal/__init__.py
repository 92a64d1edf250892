"""The citizen portal: server-rendered pages (no JavaScript needed) over the same use cases
as the API, with an OIDC login at identity and a server-side session."""

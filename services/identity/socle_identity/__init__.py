"""Socle identity: OpenID Connect provider: citizens, staff and commune apps log in; every other service trusts its tokens."""

"""Socle identity: the OpenID Connect provider that citizens, staff and commune apps log in
with; every other service trusts its tokens."""

"""The citizen's pages of digital mediation: confirm a mandate, see and revoke mandates."""

"""The admin service: application lifecycle, bulk revocation, audit, metrics (admin listener only)."""

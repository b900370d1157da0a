"""A local Auth0 stand-in: client-credentials tokens and the Management API user search."""

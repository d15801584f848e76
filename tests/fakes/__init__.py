"""Fakes shared by the tests: provider servers, keyring, clock."""

"""The push relying party: keys and messages (crypto), BLE chunks, the store, links, the API.

docs/push.md is the protocol; tokenctl.cli.push is the command line on top of this package.
"""

"""The token's hardware-free logic. Nothing in this package knows a pin or builds a bus."""

VERSION = "0.1.0"

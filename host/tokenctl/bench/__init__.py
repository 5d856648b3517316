"""Bench tools for provisioning staff: fleet provisioning, the inventory, flashing and deploying.

No click here (the CLI is tokenctl/cli/bench.py): scripts and bench/fleet.py use these modules
as the CLI does.
"""

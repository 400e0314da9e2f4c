"""Fixtures shared by the module tests."""

from tests.helpers.host_reads import forbid_host_reads

__all__ = ["forbid_host_reads"]

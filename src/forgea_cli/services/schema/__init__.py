"""The hand-off to the web app team: the Prisma fragment and config for the revised schema."""

from forgea_cli.services.schema.prisma import Handoff, additions_block, merge_into_schema, prisma_handoff

__all__ = ["Handoff", "additions_block", "merge_into_schema", "prisma_handoff"]

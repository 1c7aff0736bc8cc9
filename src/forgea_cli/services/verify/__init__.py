"""`verify-constraints`: the live database against this build — catalog by ownership, behaviour
probes, data invariants, migrations. The verbs the CLI (and `adopt`) may call."""

from forgea_cli.services.verify.catalog import check_catalog
from forgea_cli.services.verify.junit import junit_xml
from forgea_cli.services.verify.report import (
    VerifyOptions,
    VerifyReport,
    adopted_objects,
    catalog_checks,
    verify_constraints,
)
from forgea_cli.services.verify.results import GROUPS, CheckResult, CheckStatus

__all__ = [
    "GROUPS",
    "CheckResult",
    "CheckStatus",
    "VerifyOptions",
    "VerifyReport",
    "adopted_objects",
    "catalog_checks",
    "check_catalog",
    "junit_xml",
    "verify_constraints",
]

"""Which configuration a push goes to, and the mapping that describes it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from cg_cli import constants as C
from cg_cli.config.settings import SOURCE_DEFAULT, Settings
from cg_cli.errors import UsageError

if TYPE_CHECKING:
    from cg_cli.records.mappings import Mapping, MappingFile


class Target(NamedTuple):
    reference: str
    mapping: Mapping | None

    @property
    def sends_surveys(self) -> bool:
        return self.mapping is not None and self.mapping.sends_surveys


def mapping_file(settings: Settings, *, required: bool) -> MappingFile | None:
    """The mapping file; a missing default file is no error unless one is required."""
    path = Path(settings.mappings_file.value or C.DEFAULT_MAPPINGS_FILE)
    if not required and settings.mappings_file.source == SOURCE_DEFAULT and not path.exists():
        return None
    from cg_cli.records.mappings import load_mappings  # only when there is a file to read

    return load_mappings(path)


def resolve_target(
    settings: Settings,
    *,
    config: str | None = None,
    mapping_name: str | None = None,
    body_configuration: str | None = None,
) -> Target:
    """Which configuration a push goes to, highest first:
    1. --mapping NAME (its reference; with --config too is an error)
    2. --config REF
    3. the configuration of a whole --json body
    4. CG_CONFIGURATION from the environment or .env
    The mapping that describes it comes from the mapping file when it names that reference.
    """
    if mapping_name:
        if config:
            raise UsageError("give --config or --mapping, not both")
        mappings = mapping_file(settings, required=True)
        assert mappings is not None
        mapping = mappings.get(mapping_name)
        return Target(mapping.reference, mapping)
    reference = config or body_configuration or settings.configuration.value
    if reference:
        from cg_cli.records.body import check_text

        check_text(reference, "the configuration")
    if not reference:
        raise UsageError(
            "no configuration given",
            hint=f"pass --config REF or --mapping NAME, or set {C.ENV_CONFIGURATION} "
            "(the reference is under Data → Rest APIs → Inbound Mapping)",
        )
    mappings = mapping_file(settings, required=False)
    return Target(reference, mappings.by_reference(reference) if mappings else None)

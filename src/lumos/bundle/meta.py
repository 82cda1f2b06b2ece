"""What ``bundle.json`` says: a bundle's typed, versioned description."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.bundle.fingerprint import FeatureFingerprint
from lumos.errors import BundleError
from lumos.models import NetworkSpec
from lumos.tasks import DEFAULT_TASK
from lumos.tasks.preprocessing import Preprocessing

BUNDLE_VERSION = 1
DEFAULT_SCORE_THRESHOLD = 0.5  # a detector's operating point when none was tuned


class BundleMeta(BaseModel):
    """Everything but the weights. Unknown keys are kept (a later lumos may add some), and
    a bundle of another ``lumos_bundle`` version is refused with that version named."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    lumos_bundle: Literal[1] = BUNDLE_VERSION
    name: str
    task: str = DEFAULT_TASK.name
    network: NetworkSpec
    labels: list[str]
    multi_label: bool = False
    preprocessing: Preprocessing
    thresholds: list[float] | None = None  # a multi-label model's, per class
    score_threshold: float = DEFAULT_SCORE_THRESHOLD  # a detector's operating point
    recipe: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(default_factory=dict)
    artefacts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    feature_fingerprint: FeatureFingerprint | None = None  # its training data, for P2L
    created: str | None = None

    @classmethod
    def parse(cls, values: Any, origin: str) -> BundleMeta:
        if not isinstance(values, dict) or "lumos_bundle" not in values:
            raise BundleError(f"{origin}: bundle.json does not describe a lumos bundle")
        if values["lumos_bundle"] != BUNDLE_VERSION:
            raise BundleError(
                f"{origin}: bundle version {values['lumos_bundle']} is not supported "
                f"(this lumos reads version {BUNDLE_VERSION})"
            )
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BundleError(f"{origin}: bundle.json: {where}: {first['msg']}") from None

    def as_json(self) -> dict[str, Any]:
        """The description as ``bundle.json`` holds it."""
        return self.model_dump(mode="json", exclude_unset=True)
